// Tokens: this session's own token, create one (policies, TTL, name), look one up by accessor
// and revoke it. A new token is shown once, masked, with copy.
import { useState } from 'react';
import type { SyntheticEvent } from 'react';
import type { Session, TokenAuth, TokenInfo } from '../api.js';
import {
  ConfirmButton,
  ErrorBox,
  formatSeconds,
  formatTime,
  Masked,
  Notice,
  Title,
  useAction,
} from '../components.js';

function TokenFacts(props: { info: TokenInfo }) {
  const { info } = props;
  return (
    <dl className="facts">
      <dt>Display name</dt>
      <dd>{info.display_name ?? '—'}</dd>
      <dt>Accessor</dt>
      <dd>
        <code>{info.accessor}</code>
      </dd>
      <dt>Policies</dt>
      <dd>{info.policies.join(', ')}</dd>
      <dt>Expires</dt>
      <dd>
        {info.expire_time === null || info.expire_time === undefined
          ? 'never'
          : formatTime(info.expire_time)}{' '}
        ({formatSeconds(info.ttl)} left)
      </dd>
      <dt>Renewable</dt>
      <dd>{info.renewable === true ? 'yes' : 'no'}</dd>
      <dt>Orphan</dt>
      <dd>{info.orphan === true ? 'yes' : 'no'}</dd>
    </dl>
  );
}

export function TokensScreen(props: { session: Session }) {
  const { session } = props;
  return (
    <div className="stack">
      <Title>Tokens</Title>
      <section aria-labelledby="mine">
        <h2 id="mine">This session&apos;s token</h2>
        <TokenFacts info={session.info} />
      </section>
      <CreateToken session={session} />
      <LookupToken session={session} />
    </div>
  );
}

function CreateToken(props: { session: Session }) {
  const [policies, setPolicies] = useState('default');
  const [ttl, setTtl] = useState('1h');
  const [name, setName] = useState('');
  const [orphan, setOrphan] = useState(false);
  const [created, setCreated] = useState<TokenAuth | undefined>(undefined);
  const action = useAction();
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    void action.run(async () => {
      setCreated(undefined);
      const list = policies
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== '');
      setCreated(
        await props.session.client.createToken({
          policies: list,
          ...(ttl.trim() === '' ? {} : { ttl: ttl.trim() }),
          ...(name.trim() === '' ? {} : { displayName: name.trim() }),
          ...(orphan ? { orphan: true } : {}),
        }),
      );
    });
  };
  return (
    <section aria-labelledby="create-token">
      <h2 id="create-token">Create a token</h2>
      <form onSubmit={submit} className="stack">
        <label>
          Policies, comma-separated
          <input
            name="token-policies"
            value={policies}
            onChange={(e) => {
              setPolicies(e.target.value);
            }}
          />
        </label>
        <label>
          TTL (e.g. 30m, 8h)
          <input
            name="token-ttl"
            value={ttl}
            onChange={(e) => {
              setTtl(e.target.value);
            }}
          />
        </label>
        <label>
          Display name
          <input
            name="token-name"
            value={name}
            onChange={(e) => {
              setName(e.target.value);
            }}
          />
        </label>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={orphan}
            onChange={(e) => {
              setOrphan(e.target.checked);
            }}
          />
          Orphan (not revoked with this session&apos;s token)
        </label>
        <ErrorBox error={action.error} />
        <button type="submit" className="primary" disabled={action.busy}>
          {action.busy ? 'Creating…' : 'Create token'}
        </button>
      </form>
      {created === undefined ? null : (
        <div className="stack created" role="status">
          <Notice>Token created. It is shown only now: copy it before leaving this page.</Notice>
          <dl className="facts">
            <dt>Token</dt>
            <dd>
              <Masked value={created.auth.client_token} label="new token" />
            </dd>
            <dt>Accessor</dt>
            <dd>
              <code data-testid="new-accessor">{created.auth.accessor}</code>
            </dd>
            <dt>Policies</dt>
            <dd>{(created.auth.policies ?? []).join(', ')}</dd>
            <dt>TTL</dt>
            <dd>{formatSeconds(created.auth.lease_duration)}</dd>
          </dl>
        </div>
      )}
    </section>
  );
}

function LookupToken(props: { session: Session }) {
  const [accessor, setAccessor] = useState('');
  const [found, setFound] = useState<TokenInfo | undefined>(undefined);
  const [revoked, setRevoked] = useState(false);
  const action = useAction();
  const lookup = (event: SyntheticEvent) => {
    event.preventDefault();
    void action.run(async () => {
      setFound(undefined);
      setRevoked(false);
      setFound((await props.session.client.lookupAccessor(accessor.trim())).info);
    });
  };
  const revoke = () => {
    void action.run(async () => {
      await props.session.client.revokeAccessor(accessor.trim());
      setFound(undefined);
      setRevoked(true);
    });
  };
  return (
    <section aria-labelledby="lookup-token">
      <h2 id="lookup-token">Look up or revoke a token by accessor</h2>
      <form onSubmit={lookup} className="stack">
        <label>
          Accessor
          <input
            name="lookup-accessor"
            required
            spellCheck={false}
            value={accessor}
            onChange={(e) => {
              setAccessor(e.target.value);
            }}
          />
        </label>
        <ErrorBox error={action.error} />
        <button type="submit" disabled={action.busy}>
          Look up
        </button>
      </form>
      {revoked ? (
        <p role="status" className="ok">
          Token revoked, with its children and leases.
        </p>
      ) : null}
      {found === undefined ? null : (
        <div className="stack">
          <TokenFacts info={found} />
          <ConfirmButton
            label="Revoke this token"
            danger
            question="Revoke this token? Its child tokens and leases are revoked too."
            onConfirm={revoke}
          />
        </div>
      )}
    </section>
  );
}
