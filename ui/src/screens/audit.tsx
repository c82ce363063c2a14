// Audit: the devices, one device's hash-chain verification (whole file, signatures, and the
// server's chain head), and its recent entries with a search. Values in entries are HMAC'd as
// written ("hmac-sha256:..."); "Hash a value" finds where a known value was used.
import { useState } from 'react';
import type { SyntheticEvent } from 'react';
import { auditHash, listAuditDevices, readAuditLog } from '../api.js';
import type { AuditVerification, Session } from '../api.js';
import {
  ErrorBox,
  formatTime,
  Loading,
  Notice,
  Title,
  useAction,
  useAsync,
} from '../components.js';
import { Link, navigate } from '../router.js';

export function AuditScreen(props: { session: Session; device: string }) {
  const devices = useAsync(() => listAuditDevices(props.session.client), [props.session]);
  const device = props.device === '' ? devices.data?.[0]?.path : `${props.device}/`;
  return (
    <div className="stack">
      <Title>Audit</Title>
      {devices.loading ? <Loading /> : null}
      <ErrorBox error={devices.error} />
      {devices.data !== undefined && devices.data.length === 0 ? (
        <Notice>
          No audit device is enabled: requests are not recorded. Enable one (sys/audit) in
          production.
        </Notice>
      ) : null}
      {devices.data === undefined || devices.data.length === 0 ? null : (
        <table>
          <caption className="visually-hidden">Audit devices</caption>
          <thead>
            <tr>
              <th scope="col">Device</th>
              <th scope="col">Type</th>
              <th scope="col">Where</th>
            </tr>
          </thead>
          <tbody>
            {devices.data.map((d) => (
              <tr key={d.path}>
                <th scope="row">
                  <Link to={`audit/${d.path.replace(/\/$/, '')}`} current={d.path === device}>
                    {d.path}
                  </Link>
                </th>
                <td>{d.type}</td>
                <td>
                  <code className="wrap">
                    {d.options['file_path'] ?? d.options['address'] ?? ''}
                  </code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {device === undefined ? null : (
        <DeviceLog key={device} session={props.session} device={device} />
      )}
    </div>
  );
}

function DeviceLog(props: { session: Session; device: string }) {
  const query = new URLSearchParams(window.location.search);
  const filter = query.get('q') ?? '';
  const [typed, setTyped] = useState(filter);
  const view = useAsync(
    () => readAuditLog(props.session.client, props.device, { filter, limit: 50 }),
    [props.device, filter],
  );
  const search = (event: SyntheticEvent) => {
    event.preventDefault();
    navigate(
      `audit/${props.device.replace(/\/$/, '')}`,
      typed.trim() === '' ? undefined : { q: typed.trim() },
    );
  };
  return (
    <section aria-labelledby="device-title" className="stack">
      <h2 id="device-title">{props.device}</h2>
      {view.loading ? <Loading label="Verifying the log…" /> : null}
      <ErrorBox error={view.error} />
      {view.data === undefined ? null : view.data.readable ? (
        view.data.verification === null ? null : (
          <Verification v={view.data.verification} />
        )
      ) : (
        <Notice>{view.data.reason ?? 'This device cannot be read back.'}</Notice>
      )}
      <form onSubmit={search} className="row" role="search">
        <label>
          Search recent entries (path, operation, or an HMAC)
          <input
            name="audit-filter"
            value={typed}
            onChange={(e) => {
              setTyped(e.target.value);
            }}
          />
        </label>
        <button type="submit">Search</button>
      </form>
      <HashValue
        session={props.session}
        device={props.device}
        onHash={(hash) => {
          setTyped(hash);
          navigate(`audit/${props.device.replace(/\/$/, '')}`, { q: hash });
        }}
      />
      {view.data === undefined ? null : <Entries entries={view.data.entries} filter={filter} />}
    </section>
  );
}

function Verification(props: { v: AuditVerification }) {
  const { v } = props;
  return (
    <div
      className={v.ok ? 'verified ok' : 'verified bad'}
      role="status"
      data-testid="audit-verification"
    >
      <strong>{v.ok ? 'Hash chain verified' : 'Verification failed'}</strong>
      <p>
        {v.lines} lines, {v.checkpoints} checkpoint(s)
        {v.signatures_checked ? ' with valid signatures' : ''};{' '}
        {v.matches_server_head
          ? 'the file ends where the server last wrote'
          : 'the file does not end where the server last wrote'}{' '}
        (seq {v.server_head.seq}).
        {v.unsigned_trailing_lines > 0
          ? ` ${v.unsigned_trailing_lines} line(s) after the last checkpoint are chained but not yet signed.`
          : ''}
      </p>
      {v.ok ? null : (
        <p>
          {v.first_bad_line === undefined ? null : <>Line {v.first_bad_line}: </>}
          {v.problem}
        </p>
      )}
    </div>
  );
}

function HashValue(props: { session: Session; device: string; onHash: (hash: string) => void }) {
  const [value, setValue] = useState('');
  const action = useAction();
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const hash = await auditHash(props.session.client, props.device, value);
      setValue('');
      props.onHash(hash);
    });
  };
  return (
    <form onSubmit={submit} className="row">
      <label>
        Find a value: its HMAC for this device
        <input
          name="audit-hash-input"
          type="password"
          autoComplete="off"
          value={value}
          onChange={(e) => {
            setValue(e.target.value);
          }}
        />
      </label>
      <button type="submit" disabled={action.busy || value === ''}>
        Hash and search
      </button>
      <ErrorBox error={action.error} />
    </form>
  );
}

function field(entry: Record<string, unknown>, ...path: string[]): unknown {
  let at: unknown = entry;
  for (const key of path) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function Shown(props: { value: unknown }) {
  if (typeof props.value !== 'string' || props.value === '') return <>—</>;
  if (props.value.startsWith('hmac-sha256:')) {
    return (
      <span className="hmac" title={props.value}>
        <span className="badge">HMAC</span> <code>{props.value.slice(12, 24)}…</code>
      </span>
    );
  }
  return <code className="wrap">{props.value}</code>;
}

function Entries(props: { entries: readonly Record<string, unknown>[]; filter: string }) {
  const [open, setOpen] = useState<number | undefined>(undefined);
  if (props.entries.length === 0) {
    return (
      <Notice>
        {props.filter === '' ? 'No entries yet.' : `No recent entry contains “${props.filter}”.`}
      </Notice>
    );
  }
  return (
    <table className="entries">
      <caption>
        Most recent entries{props.filter === '' ? '' : ` containing “${props.filter}”`}, newest
        first
      </caption>
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">Type</th>
          <th scope="col">Operation</th>
          <th scope="col">Path</th>
          <th scope="col">Who</th>
          <th scope="col">Error</th>
          <th scope="col">Details</th>
        </tr>
      </thead>
      <tbody>
        {props.entries.map((entry, i) => (
          <tr key={i}>
            <td>{formatTime(entry['time'])}</td>
            <td>{textOf(entry['type'])}</td>
            <td>{textOf(field(entry, 'request', 'operation'))}</td>
            <td>
              <Shown value={field(entry, 'request', 'path')} />
            </td>
            <td>
              <Shown value={field(entry, 'auth', 'display_name')} />
            </td>
            <td>{typeof entry['error'] === 'string' ? entry['error'] : ''}</td>
            <td>
              <button
                type="button"
                className="small"
                aria-expanded={open === i}
                onClick={() => {
                  setOpen(open === i ? undefined : i);
                }}
              >
                {open === i ? 'Hide' : 'Show'}
                <span className="visually-hidden"> entry {i + 1}</span>
              </button>
              {open === i ? (
                <pre className="json" tabIndex={0} aria-label={`Entry ${i + 1} as written`}>
                  {JSON.stringify(entry, null, 2)}
                </pre>
              ) : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
