// One-time share links on response wrapping: the data is wrapped in a single-use token with a
// TTL, and the link carries that token in its fragment (#...), which browsers never send to a
// server. The receiver sees what the link holds (creation time, TTL) before opening it once;
// a second opening fails with the API's message.
import { useState } from 'react';
import type { SyntheticEvent } from 'react';
import { anonymousClient, CofferClient, lookupWrapping, wrapData } from '../api.js';
import type { Session } from '../api.js';
import {
  CopyButton,
  DataTable,
  ErrorBox,
  formatSeconds,
  formatTime,
  Loading,
  Notice,
  Title,
  useAction,
  useAsync,
} from '../components.js';

const TTLS = [
  { value: '300', label: '5 minutes' },
  { value: '3600', label: '1 hour' },
  { value: '86400', label: '24 hours' },
  { value: '604800', label: '7 days' },
];

export function shareLink(token: string): string {
  return `${window.location.origin}/ui/share#${token}`;
}

export function ShareCreate(props: {
  session: Session;
  data: Record<string, unknown> | null;
  source: string;
}) {
  const [ttl, setTtl] = useState('3600');
  const [link, setLink] = useState<{ url: string; expires: number } | undefined>(undefined);
  const action = useAction();
  if (props.data === null) return <Notice>There is no readable data to share.</Notice>;
  const data = props.data;
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const info = await wrapData(props.session.client, data, Number(ttl));
      setLink({ url: shareLink(info.token), expires: Date.now() + info.ttl * 1000 });
    });
  };
  return (
    <form onSubmit={submit} className="stack">
      <p>
        A one-time link gives whoever opens it first a copy of this secret&apos;s current data (
        {Object.keys(data).length} keys from <code>{props.source}</code>). It works once, then it is
        gone; it also expires after the time you choose.
      </p>
      <label>
        Link expires after
        <select
          value={ttl}
          onChange={(e) => {
            setTtl(e.target.value);
          }}
        >
          {TTLS.map((t) => (
            <option key={t.value} value={t.value}>
              {t.label}
            </option>
          ))}
        </select>
      </label>
      <ErrorBox error={action.error} />
      <div className="row">
        <button type="submit" className="primary" disabled={action.busy}>
          {action.busy ? 'Creating…' : 'Create one-time link'}
        </button>
      </div>
      {link === undefined ? null : (
        <div className="share-result" role="status">
          <label>
            One-time link (expires {new Date(link.expires).toLocaleString()})
            <input
              readOnly
              value={link.url}
              className="code"
              data-testid="share-link"
              onFocus={(e) => {
                e.target.select();
              }}
            />
          </label>
          <CopyButton text={link.url} label="one-time link" />
          <p className="hint">
            Send it over a channel you trust. If the receiver finds it already opened, someone else
            saw it.
          </p>
        </div>
      )}
    </form>
  );
}

/** /ui/share#<token>: read the fragment once, strip it from the address bar, look, then open. */
export function ShareOpenScreen() {
  const [token] = useState(() => {
    const fragment = window.location.hash.replace(/^#/, '');
    if (fragment !== '') window.history.replaceState(null, '', '/ui/share');
    return fragment;
  });
  const lookup = useAsync(async () => {
    if (token === '')
      throw new Error('This link has no token: copy the whole link, including the part after #');
    return lookupWrapping(anonymousClient(), token);
  }, [token]);
  const [opened, setOpened] = useState<Record<string, unknown> | undefined>(undefined);
  const action = useAction();
  const open = () => {
    void action.run(async () => {
      // The wrapping token is its own credential for sys/wrapping/unwrap.
      const client = new CofferClient({ address: window.location.origin, token });
      const response = await client.unwrap();
      setOpened(response?.data ?? {});
    });
  };
  return (
    <section className="share-open">
      <Title>Shared secret</Title>
      {lookup.loading ? <Loading label="Checking the link…" /> : null}
      {opened === undefined ? (
        <ErrorBox error={lookup.error} title="This link cannot be opened." />
      ) : null}
      {lookup.data !== undefined && opened === undefined ? (
        <div className="stack">
          <dl className="facts">
            <dt>Created</dt>
            <dd>{formatTime(lookup.data.creationTime)}</dd>
            <dt>Valid for</dt>
            <dd>{formatSeconds(lookup.data.creationTtlSeconds)} after creation</dd>
          </dl>
          <Notice>
            This link opens once. After you open it, nobody else can, and you cannot open it again.
          </Notice>
          <ErrorBox error={action.error} />
          <button type="button" className="primary" onClick={open} disabled={action.busy}>
            {action.busy ? 'Opening…' : 'Open the secret'}
          </button>
        </div>
      ) : null}
      {opened === undefined ? null : (
        <div className="stack">
          <Notice>Opened. Copy what you need now: this page is the only copy you will see.</Notice>
          <DataTable data={opened} caption="Shared keys and values" />
        </div>
      )}
    </section>
  );
}
