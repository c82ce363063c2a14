// Auth methods and their roles or users: the methods enabled (sys/auth), what each one holds
// (userpass users, AppRole/JWT/OIDC/Kubernetes roles), a role's settings, and a link to explain
// access with that role's policies.
import { useState } from 'react';
import { listAuthMethods } from '../api.js';
import type { Session } from '../api.js';
import { ErrorBox, Loading, Notice, Title, useAsync } from '../components.js';
import { Link } from '../router.js';

/** Where each method type keeps what people configure, and what those entries are called. */
const ENTRIES: Record<string, { path: string; noun: string }> = {
  userpass: { path: 'users', noun: 'Users' },
  approle: { path: 'role', noun: 'Roles' },
  jwt: { path: 'role', noun: 'Roles' },
  oidc: { path: 'role', noun: 'Roles' },
  kubernetes: { path: 'role', noun: 'Roles' },
};

export function AccessScreen(props: { session: Session; mount: string }) {
  const methods = useAsync(() => listAuthMethods(props.session.client), [props.session]);
  const entries = Object.entries(methods.data ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const selected = entries.find(([path]) => path === `${props.mount}/`);
  return (
    <div className="stack">
      <Title>Auth methods</Title>
      {methods.loading ? <Loading /> : null}
      <ErrorBox error={methods.error} />
      {methods.data === undefined ? null : (
        <table>
          <caption className="visually-hidden">Enabled auth methods</caption>
          <thead>
            <tr>
              <th scope="col">Path</th>
              <th scope="col">Type</th>
              <th scope="col">Description</th>
            </tr>
          </thead>
          <tbody>
            {entries.map(([path, entry]) => (
              <tr key={path}>
                <th scope="row">
                  {ENTRIES[entry.type] === undefined ? (
                    path
                  ) : (
                    <Link
                      to={`access/${path.replace(/\/$/, '')}`}
                      current={path === `${props.mount}/`}
                    >
                      {path}
                    </Link>
                  )}
                </th>
                <td>{entry.type}</td>
                <td>{entry.description ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {selected === undefined ? null : (
        <MethodEntries
          key={selected[0]}
          session={props.session}
          mount={selected[0]}
          type={selected[1].type}
        />
      )}
    </div>
  );
}

function MethodEntries(props: { session: Session; mount: string; type: string }) {
  const kind = ENTRIES[props.type];
  const [open, setOpen] = useState<string | undefined>(undefined);
  const list = useAsync(async () => {
    if (kind === undefined) return [];
    const response = await props.session.client.list(`auth/${props.mount}${kind.path}`);
    const keys = response?.data?.['keys'];
    return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : [];
  }, [props.mount]);
  if (kind === undefined) return null;
  return (
    <section aria-labelledby="entries-title" className="stack">
      <h2 id="entries-title">
        {kind.noun} of {props.mount}
      </h2>
      {list.loading ? <Loading /> : null}
      <ErrorBox error={list.error} />
      {list.data !== undefined && list.data.length === 0 ? <Notice>None yet.</Notice> : null}
      <ul className="plain">
        {list.data?.map((name) => (
          <li key={name}>
            <button
              type="button"
              className="linkish"
              aria-expanded={open === name}
              onClick={() => {
                setOpen(open === name ? undefined : name);
              }}
            >
              {name}
            </button>
            {open === name ? (
              <EntryDetail
                session={props.session}
                path={`auth/${props.mount}${kind.path}/${name}`}
              />
            ) : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** A role or user's settings; secrets (password hashes, secret ids) are never returned by the API. */
function EntryDetail(props: { session: Session; path: string }) {
  const entry = useAsync(
    async () => (await props.session.client.read(props.path))?.data ?? {},
    [props.path],
  );
  if (entry.loading) return <Loading />;
  if (entry.error !== undefined) return <ErrorBox error={entry.error} />;
  const data = entry.data ?? {};
  const policies = [...asList(data['token_policies']), ...asList(data['policies'])];
  return (
    <div className="stack detail">
      <dl className="facts">
        {Object.entries(data).map(([key, value]) => (
          <div key={key} className="fact">
            <dt>{key}</dt>
            <dd>
              <code>{typeof value === 'string' ? value : JSON.stringify(value)}</code>
            </dd>
          </div>
        ))}
      </dl>
      {policies.length > 0 ? (
        <Link
          to="explain"
          query={{ policies: [...new Set(policies)].join(',') }}
          className="button"
        >
          Explain access with these policies
        </Link>
      ) : null}
    </div>
  );
}

function asList(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value === 'string' && value !== '') return value.split(',').map((v) => v.trim());
  return [];
}
