// Database engines: connections and roles of each database mount, issuing credentials for a
// role (shown masked, with their lease), and revoking them.
import { useState } from 'react';
import { listSecretMounts } from '../api.js';
import type { Session } from '../api.js';
import {
  ConfirmButton,
  ErrorBox,
  formatSeconds,
  Loading,
  Masked,
  Notice,
  Title,
  useAction,
  useAsync,
} from '../components.js';
import { Link } from '../router.js';

async function keysAt(session: Session, path: string): Promise<string[]> {
  const response = await session.client.list(path);
  const keys = response?.data?.['keys'];
  return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : [];
}

export function DatabaseScreen(props: { session: Session; mount: string }) {
  const mounts = useAsync(
    async () => (await listSecretMounts(props.session.client)).filter((m) => m.type === 'database'),
    [props.session],
  );
  const mount = props.mount === '' ? mounts.data?.[0]?.path : `${props.mount}/`;
  return (
    <div className="stack">
      <Title>Databases</Title>
      {mounts.loading ? <Loading /> : null}
      <ErrorBox error={mounts.error} />
      {mounts.data !== undefined && mounts.data.length === 0 ? (
        <Notice>No database engine is mounted.</Notice>
      ) : null}
      {mounts.data !== undefined && mounts.data.length > 1 ? (
        <nav aria-label="Database mounts">
          <ul className="plain row">
            {mounts.data.map((m) => (
              <li key={m.path}>
                <Link to={`database/${m.path.replace(/\/$/, '')}`} current={m.path === mount}>
                  {m.path}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
      ) : null}
      {mount === undefined ? null : (
        <DatabaseMount key={mount} session={props.session} mount={mount} />
      )}
    </div>
  );
}

function DatabaseMount(props: { session: Session; mount: string }) {
  const connections = useAsync(() => keysAt(props.session, `${props.mount}config`), [props.mount]);
  const roles = useAsync(() => keysAt(props.session, `${props.mount}roles`), [props.mount]);
  return (
    <>
      <section aria-labelledby="db-connections" className="stack">
        <h2 id="db-connections">Connections in {props.mount}</h2>
        {connections.loading ? <Loading /> : null}
        <ErrorBox error={connections.error} />
        {connections.data?.length === 0 ? <Notice>No connection configured.</Notice> : null}
        <ul className="plain">
          {connections.data?.map((name) => (
            <Connection
              key={name}
              session={props.session}
              path={`${props.mount}config/${name}`}
              name={name}
            />
          ))}
        </ul>
      </section>
      <section aria-labelledby="db-roles" className="stack">
        <h2 id="db-roles">Roles</h2>
        {roles.loading ? <Loading /> : null}
        <ErrorBox error={roles.error} />
        {roles.data?.length === 0 ? <Notice>No role yet.</Notice> : null}
        <ul className="plain">
          {roles.data?.map((name) => (
            <Role key={name} session={props.session} mount={props.mount} name={name} />
          ))}
        </ul>
      </section>
    </>
  );
}

function Connection(props: { session: Session; path: string; name: string }) {
  const [open, setOpen] = useState(false);
  const config = useAsync(
    async () => (open ? ((await props.session.client.read(props.path))?.data ?? {}) : undefined),
    [open],
  );
  return (
    <li>
      <button
        type="button"
        className="linkish"
        aria-expanded={open}
        onClick={() => {
          setOpen(!open);
        }}
      >
        {props.name}
      </button>
      {open ? (
        <div className="detail">
          {config.loading ? <Loading /> : null}
          <ErrorBox error={config.error} />
          {config.data === undefined ? null : (
            <dl className="facts">
              {Object.entries(config.data).map(([key, value]) => (
                <div key={key} className="fact">
                  <dt>{key}</dt>
                  <dd>
                    <code>{typeof value === 'string' ? value : JSON.stringify(value)}</code>
                  </dd>
                </div>
              ))}
            </dl>
          )}
        </div>
      ) : null}
    </li>
  );
}

interface Credentials {
  readonly leaseId: string;
  readonly leaseSeconds: number;
  readonly data: Record<string, unknown>;
}

function Role(props: { session: Session; mount: string; name: string }) {
  const [creds, setCreds] = useState<Credentials[]>([]);
  const action = useAction();
  const issue = () => {
    void action.run(async () => {
      const response = await props.session.client.read(`${props.mount}creds/${props.name}`);
      if (response === undefined) throw new Error('The server returned no credentials');
      setCreds([
        ...creds,
        {
          leaseId: response.lease_id ?? '',
          leaseSeconds: response.lease_duration ?? 0,
          data: response.data ?? {},
        },
      ]);
    });
  };
  const revoke = (leaseId: string) => {
    void action.run(async () => {
      await props.session.client.revokeLease({ kind: 'lease', leaseId });
      setCreds(creds.filter((c) => c.leaseId !== leaseId));
    });
  };
  return (
    <li className="stack role">
      <div className="row">
        <strong>{props.name}</strong>
        <button type="button" className="primary" onClick={issue} disabled={action.busy}>
          Issue credentials<span className="visually-hidden"> for {props.name}</span>
        </button>
        <Link to={`leases/${props.mount}creds/${props.name}/`} className="small-link">
          leases<span className="visually-hidden"> of role {props.name}</span>
        </Link>
      </div>
      <ErrorBox error={action.error} />
      {creds.map((c) => (
        <div key={c.leaseId} className="created stack" data-testid="db-creds">
          <dl className="facts">
            {Object.entries(c.data).map(([key, value]) => (
              <div key={key} className="fact">
                <dt>{key}</dt>
                <dd>
                  {key === 'username' ? (
                    <code>{String(value)}</code>
                  ) : (
                    <Masked value={value} label={key} />
                  )}
                </dd>
              </div>
            ))}
            <div className="fact">
              <dt>Lease</dt>
              <dd>
                <code className="wrap">{c.leaseId}</code> ({formatSeconds(c.leaseSeconds)})
              </dd>
            </div>
          </dl>
          <ConfirmButton
            label="Revoke these credentials"
            danger
            question="Revoke these credentials now? The database user is dropped."
            onConfirm={() => {
              revoke(c.leaseId);
            }}
          />
        </div>
      ))}
    </li>
  );
}
