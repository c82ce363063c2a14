// The Vault wire routes of the key-holder ceremonies: `sys/generate-root/{attempt,update}` and
// `sys/rekey/{init,update,verify,backup}`. Unauthenticated, as in Vault: unseal key shares
// authorise them. Bare JSON bodies (not the `data` envelope), as Vault answers.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CofferError, invalidField } from '../sdk/errors.js';
import { parseFields } from '../sdk/fields.js';
import type { KeyCeremonies } from '../seal/ceremonies.js';

export interface CeremonyRouteDeps {
  readonly ceremonies: KeyCeremonies;
  readonly isSealed: () => boolean;
  readonly isInitialized: () => Promise<boolean>;
  readonly sendJson: (reply: FastifyReply, status: number, body: unknown) => FastifyReply;
  readonly decodeKey: (key: string) => Uint8Array;
}

const UPDATE_FIELDS = {
  key: { type: 'string', description: 'One unseal key share, hex or base64.', required: true },
  nonce: { type: 'string', description: "The attempt's nonce.", required: true },
} as const;

function body(req: FastifyRequest): Record<string, unknown> {
  return (req.body ?? {}) as Record<string, unknown>;
}

export function registerCeremonyRoutes(app: FastifyInstance, deps: CeremonyRouteDeps): void {
  const { ceremonies: c, sendJson } = deps;
  const ready = async () => {
    if (!(await deps.isInitialized()))
      throw new CofferError('invalid_request', 'Vault is not initialized');
  };
  const unsealed = () => {
    if (deps.isSealed()) throw new CofferError('sealed', 'Vault is sealed');
  };
  const both = (
    path: string,
    handler: (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>,
  ) => {
    app.put(path, handler);
    app.post(path, handler);
  };

  app.get('/v1/sys/generate-root/attempt', async (_req, reply) => {
    await ready();
    return sendJson(reply, 200, await c.rootStatus());
  });
  both('/v1/sys/generate-root/attempt', async (req, reply) => {
    await ready();
    unsealed();
    const f = parseFields(
      {
        otp: { type: 'string', description: 'A base62 OTP of otp_length characters.' },
        pgp_key: { type: 'string', description: 'Not supported.' },
      },
      body(req),
    );
    return sendJson(reply, 200, await c.startRoot(f.otp, f.pgp_key));
  });
  app.delete('/v1/sys/generate-root/attempt', async (_req, reply) => {
    c.cancelRoot();
    return reply.code(204).send();
  });
  both('/v1/sys/generate-root/update', async (req, reply) => {
    await ready();
    unsealed();
    const f = parseFields(UPDATE_FIELDS, body(req));
    return sendJson(reply, 200, await c.updateRoot(deps.decodeKey(f.key ?? ''), f.nonce));
  });

  app.get('/v1/sys/rekey/init', async (_req, reply) => {
    await ready();
    return sendJson(reply, 200, await c.rekeyStatus());
  });
  both('/v1/sys/rekey/init', async (req, reply) => {
    await ready();
    const f = parseFields(
      {
        secret_shares: { type: 'int', description: 'New number of shares.', required: true },
        secret_threshold: { type: 'int', description: 'New threshold.', required: true },
        require_verification: {
          type: 'bool',
          description: 'Prove the new shares before they take over.',
        },
        pgp_keys: { type: 'string-list', description: 'Not supported.' },
        backup: { type: 'bool', description: 'Not supported.' },
        stored_shares: { type: 'int', description: 'Accepted for compatibility (0 or 1).' },
      },
      body(req),
    );
    if ((f.stored_shares ?? 0) > 1) throw invalidField('stored_shares', 'must be 0 or 1');
    return sendJson(
      reply,
      200,
      await c.startRekey({
        secretShares: f.secret_shares,
        secretThreshold: f.secret_threshold,
        requireVerification: f.require_verification ?? false,
        pgpKeys: f.pgp_keys ?? [],
        backup: f.backup ?? false,
      }),
    );
  });
  app.delete('/v1/sys/rekey/init', async (_req, reply) => {
    c.cancelRekey();
    return reply.code(204).send();
  });
  both('/v1/sys/rekey/update', async (req, reply) => {
    await ready();
    const f = parseFields(UPDATE_FIELDS, body(req));
    return sendJson(reply, 200, await c.updateRekey(deps.decodeKey(f.key ?? ''), f.nonce));
  });
  app.get('/v1/sys/rekey/verify', async (_req, reply) => sendJson(reply, 200, c.verifyStatus()));
  app.delete('/v1/sys/rekey/verify', async (_req, reply) => sendJson(reply, 200, c.resetVerify()));
  both('/v1/sys/rekey/verify', async (req, reply) => {
    const f = parseFields(UPDATE_FIELDS, body(req));
    return sendJson(reply, 200, await c.verifyRekey(deps.decodeKey(f.key ?? ''), f.nonce));
  });
  app.get('/v1/sys/rekey/backup', () => {
    throw new CofferError('invalid_request', 'no backed-up keys found');
  });
}
