// Test fixtures for the Kubernetes auth method: service account JWTs signed with real keys
// (legacy and projected forms), a loopback TokenReview endpoint that behaves like the API
// server's, and the engine on an auth mount (see ../testing.ts). Not part of the build.
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import type { LoginGrant } from '../../../sdk/engine.js';
import type { JsonObject } from '../../../sdk/json.js';
import { T0, type EngineHarness } from '../../../sdk/testing.js';
import { authHarness, loginOf } from '../testing.js';
import { createKubernetesEngine, type KubernetesEngineOptions } from './engine.js';

export { expectCoffer } from '../testing.js';
export { T0 };

export interface ClusterKey {
  readonly privateKey: CryptoKey;
  readonly publicPem: string;
}

export async function newClusterKey(): Promise<ClusterKey> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { privateKey, publicPem: await exportSPKI(publicKey) };
}

export interface Account {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

export function account(name: string, namespace: string): Account {
  return { name, namespace, uid: randomUUID() };
}

export interface TokenOptions {
  /** Projected (bound) token with iss/aud/exp, or a legacy secret-based one. */
  readonly projected?: boolean;
  readonly audience?: string;
  readonly issuer?: string;
  /** Epoch ms the token's times count from. */
  readonly nowMs?: number;
  readonly expiresInSeconds?: number;
}

/** Signs a service account JWT as the API server would. */
export async function saToken(
  key: ClusterKey,
  sa: Account,
  options: TokenOptions = {},
): Promise<string> {
  const nowSeconds = Math.floor((options.nowMs ?? T0) / 1000);
  if (options.projected === false) {
    return new SignJWT({
      'kubernetes.io/serviceaccount/namespace': sa.namespace,
      'kubernetes.io/serviceaccount/secret.name': `${sa.name}-token-abcde`,
      'kubernetes.io/serviceaccount/service-account.name': sa.name,
      'kubernetes.io/serviceaccount/service-account.uid': sa.uid,
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(options.issuer ?? 'kubernetes/serviceaccount')
      .setSubject(`system:serviceaccount:${sa.namespace}:${sa.name}`)
      .sign(key.privateKey);
  }
  return new SignJWT({
    'kubernetes.io': {
      namespace: sa.namespace,
      pod: { name: `${sa.name}-pod`, uid: randomUUID() },
      serviceaccount: { name: sa.name, uid: sa.uid },
    },
  })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(options.issuer ?? 'https://kubernetes.default.svc.cluster.local')
    .setSubject(`system:serviceaccount:${sa.namespace}:${sa.name}`)
    .setAudience(options.audience ?? 'https://kubernetes.default.svc.cluster.local')
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + (options.expiresInSeconds ?? 3600))
    .sign(key.privateKey);
}

export interface ReviewRecord {
  readonly authorization: string | undefined;
  readonly body: JsonObject;
}

/** A loopback stand-in for the API server's TokenReview endpoint. */
export interface TokenReviewServer {
  readonly url: string;
  readonly reviews: readonly ReviewRecord[];
  /** Tokens the "cluster" considers valid, with their account and audiences. */
  readonly live: Map<string, { account: Account; audiences: readonly string[] }>;
  /** A bearer accepted besides live tokens (the reviewer's JWT). */
  reviewerJwt: string;
  /** Answer every review with this HTTP status instead (outage tests). */
  failStatus: number | undefined;
  /** Report this account instead of the token's own (a lying or confused server). */
  overrideAccount: Account | undefined;
  close(): Promise<void>;
}

/** What a TokenReview stand-in answers: an HTTP status and a JSON body. */
export interface TokenReviewAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** The TokenReview state and its answer, without a server (the Kubernetes API stand-in reuses it). */
export type TokenReviewStandIn = Omit<TokenReviewServer, 'url' | 'close'> & {
  answer(authorization: string | undefined, body: JsonObject): TokenReviewAnswer;
};

export function createTokenReviewStandIn(): TokenReviewStandIn {
  const reviews: ReviewRecord[] = [];
  const fake: TokenReviewStandIn = {
    reviews,
    live: new Map(),
    reviewerJwt: '',
    failStatus: undefined,
    overrideAccount: undefined,
    answer(authorization, body) {
      reviews.push({ authorization, body });
      if (fake.failStatus !== undefined) {
        return {
          status: fake.failStatus,
          body: { kind: 'Status', status: 'Failure', code: fake.failStatus },
        };
      }
      const bearer = (authorization ?? '').replace(/^Bearer /, '');
      if (bearer !== fake.reviewerJwt && !fake.live.has(bearer)) {
        return {
          status: 401,
          body: { kind: 'Status', status: 'Failure', reason: 'Unauthorized', code: 401 },
        };
      }
      const spec = (body.spec ?? {}) as { token?: string; audiences?: string[] };
      const entry = fake.live.get(spec.token ?? '');
      const wanted = spec.audiences ?? [];
      const matching =
        entry === undefined
          ? []
          : wanted.length === 0
            ? [...entry.audiences]
            : wanted.filter((a) => entry.audiences.includes(a));
      if (entry === undefined || matching.length === 0) {
        return {
          status: 201,
          body: {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenReview',
            status: {
              authenticated: false,
              error: entry === undefined ? '[invalid bearer token]' : 'token audiences are invalid',
            },
          },
        };
      }
      const sa = fake.overrideAccount ?? entry.account;
      return {
        status: 201,
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          status: {
            authenticated: true,
            audiences: matching,
            user: {
              username: `system:serviceaccount:${sa.namespace}:${sa.name}`,
              uid: sa.uid,
              groups: ['system:serviceaccounts', `system:serviceaccounts:${sa.namespace}`],
            },
          },
        },
      };
    },
  };
  return fake;
}

export async function startTokenReviewServer(): Promise<TokenReviewServer> {
  const standIn = createTokenReviewStandIn();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown): void => {
        res.statusCode = status;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'POST' || req.url !== '/apis/authentication.k8s.io/v1/tokenreviews') {
        send(404, { kind: 'Status', status: 'Failure', code: 404 });
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as JsonObject;
      const answer = standIn.answer(req.headers.authorization, body);
      send(answer.status, answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(standIn, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  });
}

export interface Harness extends EngineHarness {
  login(data: Record<string, unknown>): Promise<LoginGrant>;
}

export function harness(options: KubernetesEngineOptions = {}): Harness {
  const h = authHarness(createKubernetesEngine(options), 'kubernetes');
  const kubernetes: Pick<Harness, 'login'> = {
    async login(data) {
      return loginOf(await h.call('update', 'login', data));
    },
  };
  return Object.assign(h, kubernetes);
}
