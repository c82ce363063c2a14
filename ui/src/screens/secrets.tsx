// Secrets: a tree of the mounts and paths the token may use; a folder view with "new secret";
// the secret view (masked values, edit as rows or JSON with check-and-set, version history and
// diff, soft delete/undelete/destroy, custom metadata, one-time share links). KV v2 and every
// engine with KV v2's data/metadata paths are browsed alike; KV v1 by its plain paths.
import { useEffect, useRef, useState } from 'react';
import type { SyntheticEvent } from 'react';
import { ApiError, isDenied, isNotFound, listSecretMounts, mountOf } from '../api.js';
import type { Session, UiMount } from '../api.js';
import {
  ConfirmButton,
  dataOfRows,
  ErrorBox,
  formatTime,
  DataTable,
  KeyValueRows,
  Loading,
  Notice,
  rowsOf,
  Tabs,
  Title,
  useAction,
  useAsync,
  valueText,
} from '../components.js';
import type { Row } from '../components.js';
import { diffData, diffSummary } from '../lib/diff.js';
import { grantedChildren, mergeEntries, mountCandidates, shapeOf } from '../lib/tree.js';
import type { MountShape } from '../lib/tree.js';
import { Link, navigate } from '../router.js';
import { ShareCreate } from './share.js';

interface Mount {
  readonly path: string;
  readonly type: string;
  readonly shape: MountShape;
}

function toMount(entry: UiMount): Mount {
  return {
    path: entry.path,
    type: entry.type,
    shape: shapeOf(entry.type, entry.options),
  };
}

const byPath = (a: Mount, b: Mount) => a.path.localeCompare(b.path);

/**
 * The mounts this token can use: every mount when it may list them (root through
 * sys/internal/ui/mounts/, others through sys/mounts), otherwise those its rules name.
 */
export async function discoverMounts(session: Session): Promise<Mount[]> {
  try {
    return (await listSecretMounts(session.client)).map(toMount).sort(byPath);
  } catch (error) {
    if (!isDenied(error)) throw error;
  }
  try {
    const table = await session.client.mounts();
    return Object.entries(table)
      .filter(([, entry]) => entry.type !== 'system' && entry.type !== 'identity')
      .map(([path, entry]) => toMount({ ...entry, path }))
      .sort(byPath);
  } catch (error) {
    if (!isDenied(error) || session.acl === undefined) throw error;
  }
  const found = new Map<string, Mount>();
  for (const candidate of mountCandidates(session.acl)) {
    try {
      const mount = toMount(await mountOf(session.client, candidate));
      if (mount.path !== '') found.set(mount.path, mount);
    } catch {
      // Not inside a mount, or nothing granted there: not shown.
    }
  }
  return [...found.values()].sort(byPath);
}

/** Where a KV v2-shaped path lives: `<mount><segment>/<key>`. */
function v2Path(
  mount: Mount,
  segment: 'data' | 'metadata' | 'delete' | 'undelete' | 'destroy',
  key: string,
) {
  return `${mount.path}${segment}/${key}`;
}

interface Listing {
  readonly entries: string[];
  /** LIST was refused; the entries come from the token's policies only. */
  readonly fromPolicies: boolean;
}

async function listFolder(session: Session, mount: Mount, folder: string): Promise<Listing> {
  const listPath =
    mount.shape === 'kv1' ? `${mount.path}${folder}` : `${mount.path}metadata/${folder}`;
  const bases =
    mount.shape === 'kv1' ? [mount.path] : [`${mount.path}data/`, `${mount.path}metadata/`];
  const granted = session.acl === undefined ? [] : grantedChildren(session.acl, bases, folder);
  try {
    const response = await session.client.list(listPath);
    const keys = response?.data?.['keys'];
    const listed = Array.isArray(keys)
      ? keys.filter((k): k is string => typeof k === 'string')
      : [];
    return { entries: mergeEntries(listed, granted), fromPolicies: false };
  } catch (error) {
    if (isDenied(error)) return { entries: mergeEntries([], granted), fromPolicies: true };
    if (isNotFound(error)) return { entries: mergeEntries([], granted), fromPolicies: false };
    throw error;
  }
}

function secretRoute(mount: string, path: string): { to: string; query: Record<string, string> } {
  return { to: 'secrets', query: path === '' ? { mount } : { mount, path } };
}

export function SecretsScreen(props: { session: Session; path: string }) {
  const query = new URLSearchParams(window.location.search);
  const mountPath = query.get('mount') ?? '';
  const path = query.get('path') ?? '';
  const creating = query.get('new') === '1';
  const mounts = useAsync(() => discoverMounts(props.session), [props.session]);
  const mount = mounts.data?.find((m) => m.path === mountPath);
  return (
    <div className="secrets">
      <nav className="tree" aria-label="Secrets tree">
        <h2>Mounts</h2>
        {mounts.loading ? <Loading /> : null}
        <ErrorBox error={mounts.error} />
        {mounts.data !== undefined && mounts.data.length === 0 ? (
          <p>No secret engine you may use.</p>
        ) : null}
        <ul>
          {mounts.data?.map((m) => (
            <MountNode
              key={m.path}
              session={props.session}
              mount={m}
              selected={{ mountPath, path }}
            />
          ))}
        </ul>
      </nav>
      <section className="secret-pane" aria-label="Secret">
        {mountPath === '' ? (
          <>
            <Title>Secrets</Title>
            <p>Choose a mount or a secret in the tree.</p>
          </>
        ) : mount === undefined ? (
          mounts.loading ? (
            <Loading />
          ) : (
            <>
              <Title>{mountPath}</Title>
              <ErrorBox error={new ApiError(404, [`no mount you may use at ${mountPath}`])} />
            </>
          )
        ) : creating ? (
          <CreateSecret session={props.session} mount={mount} folder={path} />
        ) : path === '' || path.endsWith('/') ? (
          <FolderView session={props.session} mount={mount} folder={path} />
        ) : (
          <SecretView
            key={`${mount.path}${path}`}
            session={props.session}
            mount={mount}
            path={path}
          />
        )}
      </section>
    </div>
  );
}

function MountNode(props: {
  session: Session;
  mount: Mount;
  selected: { mountPath: string; path: string };
}) {
  const { mount } = props;
  const [open, setOpen] = useState(props.selected.mountPath === mount.path);
  if (mount.shape === 'database') {
    return (
      <li>
        <Link to={`database/${mount.path.replace(/\/$/, '')}`}>{mount.path}</Link>{' '}
        <span className="badge">database</span>
      </li>
    );
  }
  return (
    <li>
      <button
        type="button"
        className="tree-toggle"
        aria-expanded={open}
        onClick={() => {
          setOpen(!open);
        }}
      >
        <span aria-hidden="true">{open ? '▾' : '▸'}</span> {mount.path}
      </button>{' '}
      <span className="badge">
        {mount.shape === 'other' ? mount.type : mount.shape === 'kv2' ? 'kv v2' : 'kv v1'}
      </span>{' '}
      <Link {...secretRoute(mount.path, '')} className="small-link">
        open
        <span className="visually-hidden"> folder {mount.path}</span>
      </Link>
      {open ? (
        <FolderNode session={props.session} mount={mount} folder="" selected={props.selected} />
      ) : null}
    </li>
  );
}

function FolderNode(props: {
  session: Session;
  mount: Mount;
  folder: string;
  selected: { mountPath: string; path: string };
}) {
  const listing = useAsync(
    () => listFolder(props.session, props.mount, props.folder),
    [props.mount.path, props.folder],
  );
  if (listing.loading && listing.data === undefined) return <Loading />;
  if (listing.error !== undefined) return <ErrorBox error={listing.error} />;
  const entries = listing.data?.entries ?? [];
  return (
    <ul>
      {listing.data?.fromPolicies === true ? (
        <li className="hint">Listing not allowed: showing the paths your policies grant.</li>
      ) : null}
      {entries.length === 0 ? <li className="hint">Empty</li> : null}
      {entries.map((entry) =>
        entry.endsWith('/') ? (
          <FolderEntry key={entry} {...props} name={entry} />
        ) : (
          <li key={entry}>
            <Link
              {...secretRoute(props.mount.path, props.folder + entry)}
              current={
                props.selected.mountPath === props.mount.path &&
                props.selected.path === props.folder + entry
              }
            >
              {entry}
            </Link>
          </li>
        ),
      )}
    </ul>
  );
}

function FolderEntry(props: {
  session: Session;
  mount: Mount;
  folder: string;
  name: string;
  selected: { mountPath: string; path: string };
}) {
  const full = props.folder + props.name;
  const [open, setOpen] = useState(
    props.selected.mountPath === props.mount.path && props.selected.path.startsWith(full),
  );
  return (
    <li>
      <button
        type="button"
        className="tree-toggle"
        aria-expanded={open}
        onClick={() => {
          setOpen(!open);
        }}
      >
        <span aria-hidden="true">{open ? '▾' : '▸'}</span> {props.name}
      </button>{' '}
      <Link {...secretRoute(props.mount.path, full)} className="small-link">
        open
        <span className="visually-hidden"> folder {full}</span>
      </Link>
      {open ? (
        <FolderNode
          session={props.session}
          mount={props.mount}
          folder={full}
          selected={props.selected}
        />
      ) : null}
    </li>
  );
}

function FolderView(props: { session: Session; mount: Mount; folder: string }) {
  const listing = useAsync(
    () => listFolder(props.session, props.mount, props.folder),
    [props.mount.path, props.folder],
  );
  const browsable = props.mount.shape !== 'other' || listing.error === undefined;
  return (
    <>
      <Title>
        {props.mount.path}
        {props.folder}
      </Title>
      <div className="row">
        {browsable ? (
          <Link
            to="secrets"
            query={{ mount: props.mount.path, path: props.folder, new: '1' }}
            className="button primary"
          >
            New secret
          </Link>
        ) : null}
      </div>
      {listing.loading ? <Loading /> : null}
      {props.mount.shape === 'other' && listing.error !== undefined ? (
        <Notice>
          This {props.mount.type} engine has no KV-style data/metadata paths the UI can browse.
        </Notice>
      ) : (
        <ErrorBox error={listing.error} />
      )}
      {listing.data?.fromPolicies === true ? (
        <Notice>You may not list this folder; these are the paths your policies grant.</Notice>
      ) : null}
      {listing.data !== undefined ? (
        <table>
          <caption className="visually-hidden">
            Entries in {props.folder === '' ? props.mount.path : props.folder}
          </caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
            </tr>
          </thead>
          <tbody>
            {listing.data.entries.length === 0 ? (
              <tr>
                <td colSpan={2}>Nothing here yet.</td>
              </tr>
            ) : null}
            {listing.data.entries.map((entry) => (
              <tr key={entry}>
                <td>
                  <Link {...secretRoute(props.mount.path, props.folder + entry)}>{entry}</Link>
                </td>
                <td>{entry.endsWith('/') ? 'folder' : 'secret'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

/** Data as rows or as raw JSON; `rows` is the source of truth unless the JSON tab is active. */
function DataEditor(props: {
  rows: Row[];
  setRows: (rows: Row[]) => void;
  json: string;
  setJson: (json: string) => void;
  mode: 'rows' | 'json';
  setMode: (mode: 'rows' | 'json') => void;
}) {
  const [jsonError, setJsonError] = useState<string | undefined>(undefined);
  const switchTo = (mode: string) => {
    try {
      if (mode === 'json' && props.mode === 'rows') {
        props.setJson(JSON.stringify(dataOfRows(props.rows), null, 2));
      } else if (mode === 'rows' && props.mode === 'json') {
        props.setRows(rowsOf(parseJsonObject(props.json)));
      }
      setJsonError(undefined);
      props.setMode(mode === 'json' ? 'json' : 'rows');
    } catch (error) {
      setJsonError(error instanceof Error ? error.message : 'invalid data');
    }
  };
  return (
    <>
      <Tabs
        label="Edit as"
        selected={props.mode}
        onSelect={switchTo}
        tabs={[
          {
            id: 'rows',
            title: 'Key/value',
            content: () => (
              <KeyValueRows legend="Data" rows={props.rows} onChange={props.setRows} />
            ),
          },
          {
            id: 'json',
            title: 'JSON',
            content: () => (
              <label className="stack">
                JSON object
                <textarea
                  className="code"
                  rows={10}
                  spellCheck={false}
                  value={props.json}
                  onChange={(e) => {
                    props.setJson(e.target.value);
                  }}
                />
              </label>
            ),
          },
        ]}
      />
      {jsonError === undefined ? null : (
        <div className="error" role="alert">
          {jsonError}
        </div>
      )}
    </>
  );
}

function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `The JSON is not valid: ${error instanceof Error ? error.message : 'parse error'}`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('The JSON must be an object of keys and values');
  }
  return value as Record<string, unknown>;
}

function editedData(rows: Row[], json: string, mode: 'rows' | 'json'): Record<string, unknown> {
  const data = mode === 'json' ? parseJsonObject(json) : dataOfRows(rows);
  if (Object.keys(data).length === 0) throw new Error('A secret needs at least one key');
  return data;
}

function CreateSecret(props: { session: Session; mount: Mount; folder: string }) {
  const [name, setName] = useState(props.folder);
  const [rows, setRows] = useState<Row[]>(() => rowsOf({}));
  const [json, setJson] = useState('{\n}');
  const [mode, setMode] = useState<'rows' | 'json'>('rows');
  const action = useAction();
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const key = name.trim().replace(/^\/+/, '');
      if (key === '' || key.endsWith('/'))
        throw new Error('The path must name a secret, not a folder');
      const data = editedData(rows, json, mode);
      if (props.mount.shape === 'kv1') {
        await props.session.client.write(`${props.mount.path}${key}`, data);
      } else {
        // cas 0: create only, so an existing secret is never overwritten from this form.
        await props.session.client.request('PUT', v2Path(props.mount, 'data', key), {
          body: { data, options: { cas: 0 } },
        });
      }
      navigate('secrets', { mount: props.mount.path, path: key });
    });
  };
  return (
    <form onSubmit={submit} className="stack">
      <Title>New secret in {props.mount.path}</Title>
      <label>
        Path
        <input
          name="secret-path"
          required
          value={name}
          spellCheck={false}
          onChange={(e) => {
            setName(e.target.value);
          }}
        />
      </label>
      <DataEditor
        rows={rows}
        setRows={setRows}
        json={json}
        setJson={setJson}
        mode={mode}
        setMode={setMode}
      />
      <ErrorBox error={action.error} />
      {casConflict(action.error) ? (
        <Notice>A secret already exists at this path: open it to edit it.</Notice>
      ) : null}
      <div className="row">
        <button type="submit" className="primary" disabled={action.busy}>
          {action.busy ? 'Saving…' : 'Save'}
        </button>
        <Link
          to="secrets"
          query={{ mount: props.mount.path, path: props.folder }}
          className="button"
        >
          Cancel
        </Link>
      </div>
    </form>
  );
}

function casConflict(error: unknown): boolean {
  return error instanceof ApiError && error.code === 'cas_mismatch';
}

interface VersionMeta {
  readonly created_time?: string;
  readonly deletion_time?: string;
  readonly destroyed?: boolean;
}

interface SecretMetadata {
  readonly current_version?: number;
  readonly oldest_version?: number;
  readonly max_versions?: number;
  readonly cas_required?: boolean;
  readonly delete_version_after?: string;
  readonly custom_metadata?: Record<string, string> | null;
  readonly versions?: Record<string, VersionMeta>;
  readonly updated_time?: string;
}

interface SecretRead {
  readonly data: Record<string, unknown> | null;
  readonly version?: number;
  readonly deletedAt?: string;
  readonly destroyed: boolean;
}

async function readSecret(
  session: Session,
  mount: Mount,
  path: string,
  version?: number,
): Promise<SecretRead | undefined> {
  if (mount.shape === 'kv1') {
    const response = await session.client.read(`${mount.path}${path}`);
    if (response === undefined) return undefined;
    return { data: response.data ?? null, destroyed: false };
  }
  const response = await session.client.read(
    v2Path(mount, 'data', path),
    version === undefined ? undefined : { version: String(version) },
  );
  if (response === undefined) return undefined;
  const body = response.data ?? null;
  const data =
    body !== null && typeof body['data'] === 'object'
      ? (body['data'] as Record<string, unknown> | null)
      : null;
  const meta = (body?.['metadata'] ?? {}) as {
    version?: number;
    deletion_time?: string;
    destroyed?: boolean;
  };
  return {
    data,
    ...(meta.version === undefined ? {} : { version: meta.version }),
    ...(meta.deletion_time === undefined || meta.deletion_time === ''
      ? {}
      : { deletedAt: meta.deletion_time }),
    destroyed: meta.destroyed === true,
  };
}

function SecretView(props: { session: Session; mount: Mount; path: string }) {
  const { session, mount, path } = props;
  const [tab, setTab] = useState('data');
  const secret = useAsync(() => readSecret(session, mount, path), [path]);
  const metadata = useAsync(async () => {
    if (mount.shape === 'kv1') return undefined;
    const response = await session.client.read(v2Path(mount, 'metadata', path));
    return response?.data as SecretMetadata | undefined;
  }, [path]);
  const reloadAll = () => {
    secret.reload();
    metadata.reload();
  };
  const isV2 = mount.shape !== 'kv1';
  const tabs = [
    {
      id: 'data',
      title: 'Data',
      content: () => <DataTab {...props} secret={secret} onChanged={reloadAll} />,
    },
    ...(isV2
      ? [
          {
            id: 'versions',
            title: 'Versions',
            content: () => <VersionsTab {...props} metadata={metadata} onChanged={reloadAll} />,
          },
          {
            id: 'metadata',
            title: 'Metadata',
            content: () => <MetadataTab {...props} metadata={metadata} onChanged={reloadAll} />,
          },
        ]
      : []),
    {
      id: 'share',
      title: 'Share',
      content: () => (
        <ShareCreate
          session={session}
          data={secret.data?.data ?? null}
          source={`${mount.path}${path}`}
        />
      ),
    },
  ];
  return (
    <>
      <Title>
        {mount.path}
        {path}
      </Title>
      <Tabs label="Secret" tabs={tabs} selected={tab} onSelect={setTab} />
    </>
  );
}

function DataTab(props: {
  session: Session;
  mount: Mount;
  path: string;
  secret: ReturnType<typeof useAsync<SecretRead | undefined>>;
  onChanged: () => void;
}) {
  const { session, mount, path, secret } = props;
  const [editing, setEditing] = useState(false);
  const [revealAll, setRevealAll] = useState(false);
  const [rows, setRows] = useState<Row[]>([]);
  const [json, setJson] = useState('');
  const [mode, setMode] = useState<'rows' | 'json'>('rows');
  const action = useAction();
  const isV2 = mount.shape !== 'kv1';
  if (secret.loading && secret.data === undefined) return <Loading />;
  if (secret.error !== undefined) return <ErrorBox error={secret.error} />;
  const read = secret.data;
  if (read === undefined) return <Notice>There is no secret at this path.</Notice>;
  const data = read.data ?? {};

  const startEdit = () => {
    setRows(rowsOf(data));
    setJson(JSON.stringify(data, null, 2));
    setMode('rows');
    setEditing(true);
  };
  const save = (event: SyntheticEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const next = editedData(rows, json, mode);
      if (isV2) {
        // Check-and-set on the version being edited: a write by someone else in between is a
        // conflict, shown as such, never silently overwritten.
        await session.client.request('PUT', v2Path(mount, 'data', path), {
          body: { data: next, options: { cas: read.version ?? 0 } },
        });
      } else {
        await session.client.write(`${mount.path}${path}`, next);
      }
      setEditing(false);
      props.onChanged();
    });
  };
  const remove = () => {
    void action.run(async () => {
      await session.client.delete(isV2 ? v2Path(mount, 'data', path) : `${mount.path}${path}`);
      props.onChanged();
    });
  };
  const undelete = () => {
    void action.run(async () => {
      await session.client.request('POST', v2Path(mount, 'undelete', path), {
        body: { versions: [read.version] },
      });
      props.onChanged();
    });
  };

  if (editing) {
    return (
      <form onSubmit={save} className="stack">
        <p className="hint">
          Saving creates version {(read.version ?? 0) + 1} if nobody else wrote since version{' '}
          {read.version ?? 0}.
        </p>
        <DataEditor
          rows={rows}
          setRows={setRows}
          json={json}
          setJson={setJson}
          mode={mode}
          setMode={setMode}
        />
        <ErrorBox error={action.error} />
        {casConflict(action.error) ? (
          <div className="conflict" role="alert">
            <strong>Conflict:</strong> someone saved a newer version while you were editing.{' '}
            <button
              type="button"
              onClick={() => {
                setEditing(false);
                props.onChanged();
              }}
            >
              Load the latest version
            </button>
          </div>
        ) : null}
        <div className="row">
          <button type="submit" className="primary" disabled={action.busy}>
            {action.busy ? 'Saving…' : 'Save'}
          </button>
          <button
            type="button"
            onClick={() => {
              setEditing(false);
            }}
          >
            Cancel
          </button>
        </div>
      </form>
    );
  }

  return (
    <div className="stack">
      {isV2 ? (
        <p className="hint" data-testid="version">
          Version {read.version ?? '—'}
          {read.deletedAt !== undefined ? ` · deleted ${formatTime(read.deletedAt)}` : ''}
          {read.destroyed ? ' · destroyed' : ''}
        </p>
      ) : null}
      {read.deletedAt !== undefined || read.destroyed ? (
        <Notice>
          {read.destroyed
            ? 'This version was destroyed; its data is gone for good.'
            : 'This version is deleted. Undelete it to read its data again.'}
        </Notice>
      ) : (
        <DataTable data={data} caption="Keys and values" revealAll={revealAll} />
      )}
      <ErrorBox error={action.error} />
      <div className="row">
        {read.deletedAt === undefined && !read.destroyed ? (
          <>
            <button type="button" className="primary" onClick={startEdit}>
              Edit
            </button>
            <button
              type="button"
              aria-pressed={revealAll}
              onClick={() => {
                setRevealAll(!revealAll);
              }}
            >
              {revealAll ? 'Hide all values' : 'Reveal all values'}
            </button>
            <ConfirmButton
              label="Delete"
              danger
              question={
                isV2
                  ? `Delete version ${read.version ?? ''} of ${path}? It can be undeleted later.`
                  : `Delete ${path}? KV version 1 keeps no history: this cannot be undone.`
              }
              onConfirm={remove}
            />
          </>
        ) : null}
        {isV2 && read.deletedAt !== undefined && !read.destroyed ? (
          <button type="button" className="primary" onClick={undelete} disabled={action.busy}>
            Undelete version {read.version}
          </button>
        ) : null}
      </div>
    </div>
  );
}

function VersionsTab(props: {
  session: Session;
  mount: Mount;
  path: string;
  metadata: ReturnType<typeof useAsync<SecretMetadata | undefined>>;
  onChanged: () => void;
}) {
  const { session, mount, path, metadata } = props;
  const action = useAction();
  const versions = Object.entries(metadata.data?.versions ?? {})
    .map(([n, v]) => ({ number: Number(n), ...v }))
    .sort((a, b) => b.number - a.number);
  const [left, setLeft] = useState<number | undefined>(undefined);
  const [right, setRight] = useState<number | undefined>(undefined);
  if (metadata.loading && metadata.data === undefined) return <Loading />;
  if (metadata.error !== undefined) return <ErrorBox error={metadata.error} />;
  if (versions.length === 0) return <Notice>No versions.</Notice>;
  const a = left ?? versions[1]?.number ?? versions[0]!.number;
  const b = right ?? versions[0]!.number;
  const act = (segment: 'delete' | 'undelete' | 'destroy', version: number) => {
    void action.run(async () => {
      await session.client.request(
        segment === 'destroy' ? 'PUT' : 'POST',
        v2Path(mount, segment, path),
        {
          body: { versions: [version] },
        },
      );
      props.onChanged();
    });
  };
  return (
    <div className="stack">
      <table>
        <caption>
          Versions of {path} (current: {metadata.data?.current_version ?? '—'})
        </caption>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Created</th>
            <th scope="col">State</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => {
            const deleted = v.deletion_time !== undefined && v.deletion_time !== '';
            return (
              <tr key={v.number}>
                <th scope="row">{v.number}</th>
                <td>{formatTime(v.created_time)}</td>
                <td>
                  {v.destroyed === true
                    ? 'destroyed'
                    : deleted
                      ? `deleted ${formatTime(v.deletion_time)}`
                      : 'active'}
                </td>
                <td>
                  <div className="row">
                    {v.destroyed === true ? null : deleted ? (
                      <button
                        type="button"
                        className="small"
                        onClick={() => {
                          act('undelete', v.number);
                        }}
                      >
                        Undelete<span className="visually-hidden"> version {v.number}</span>
                      </button>
                    ) : (
                      <button
                        type="button"
                        className="small"
                        onClick={() => {
                          act('delete', v.number);
                        }}
                      >
                        Delete<span className="visually-hidden"> version {v.number}</span>
                      </button>
                    )}
                    {v.destroyed === true ? null : (
                      <ConfirmButton
                        label={`Destroy ${v.number}`}
                        danger
                        question={`Destroy version ${v.number} of ${path}? Its data is removed for good.`}
                        onConfirm={() => {
                          act('destroy', v.number);
                        }}
                      />
                    )}
                  </div>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <ErrorBox error={action.error} />
      <fieldset className="row">
        <legend>Compare two versions</legend>
        <VersionSelect label="From" value={a} versions={versions} onChange={setLeft} />
        <VersionSelect label="To" value={b} versions={versions} onChange={setRight} />
      </fieldset>
      <VersionDiff session={session} mount={mount} path={path} from={a} to={b} />
    </div>
  );
}

function VersionSelect(props: {
  label: string;
  value: number;
  versions: readonly { number: number }[];
  onChange: (version: number) => void;
}) {
  return (
    <label>
      {props.label}
      <select
        value={props.value}
        onChange={(e) => {
          props.onChange(Number(e.target.value));
        }}
      >
        {props.versions.map((v) => (
          <option key={v.number} value={v.number}>
            {v.number}
          </option>
        ))}
      </select>
    </label>
  );
}

function VersionDiff(props: {
  session: Session;
  mount: Mount;
  path: string;
  from: number;
  to: number;
}) {
  const [reveal, setReveal] = useState(false);
  const diff = useAsync(async () => {
    const [a, b] = await Promise.all([
      readSecret(props.session, props.mount, props.path, props.from),
      readSecret(props.session, props.mount, props.path, props.to),
    ]);
    return {
      rows: diffData(a?.data ?? {}, b?.data ?? {}),
      missing: a?.data === null || b?.data === null,
    };
  }, [props.path, props.from, props.to]);
  if (diff.loading && diff.data === undefined) return <Loading label="Comparing…" />;
  if (diff.error !== undefined) return <ErrorBox error={diff.error} />;
  const rows = diff.data?.rows ?? [];
  return (
    <div className="stack">
      {diff.data?.missing === true ? (
        <Notice>One of these versions is deleted or destroyed: it compares as empty.</Notice>
      ) : null}
      <p role="status">
        Version {props.from} → {props.to}: {diffSummary(rows)}
      </p>
      <button
        type="button"
        aria-pressed={reveal}
        onClick={() => {
          setReveal(!reveal);
        }}
      >
        {reveal ? 'Hide values' : 'Reveal values in the diff'}
      </button>
      <table className="diff">
        <caption className="visually-hidden">
          Differences between version {props.from} and {props.to}
        </caption>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Change</th>
            <th scope="col">Version {props.from}</th>
            <th scope="col">Version {props.to}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.key} className={`diff-${row.status}`}>
              <th scope="row">{row.key}</th>
              <td>{row.status}</td>
              <td>
                <code>
                  {row.before === undefined ? '' : reveal ? valueText(row.before) : '••••••••'}
                </code>
              </td>
              <td>
                <code>
                  {row.after === undefined ? '' : reveal ? valueText(row.after) : '••••••••'}
                </code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function MetadataTab(props: {
  session: Session;
  mount: Mount;
  path: string;
  metadata: ReturnType<typeof useAsync<SecretMetadata | undefined>>;
  onChanged: () => void;
}) {
  const { metadata } = props;
  const [rows, setRows] = useState<Row[] | undefined>(undefined);
  const [maxVersions, setMaxVersions] = useState('');
  const [casRequired, setCasRequired] = useState(false);
  const [deleteAfter, setDeleteAfter] = useState('');
  const action = useAction();
  const loadedFor = useRef<SecretMetadata | undefined>(undefined);
  useEffect(() => {
    const m = metadata.data;
    if (m === undefined || loadedFor.current === m) return;
    loadedFor.current = m;
    setRows(rowsOf(m.custom_metadata ?? {}));
    setMaxVersions(String(m.max_versions ?? 0));
    setCasRequired(m.cas_required === true);
    setDeleteAfter(m.delete_version_after ?? '0s');
  }, [metadata.data]);
  if (metadata.loading && metadata.data === undefined) return <Loading />;
  if (metadata.error !== undefined) return <ErrorBox error={metadata.error} />;
  if (rows === undefined) return <Loading />;
  const save = (event: SyntheticEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const max = Number(maxVersions);
      if (!Number.isInteger(max) || max < 0)
        throw new Error('Max versions must be a whole number, 0 for the mount default');
      await props.session.client.request('POST', v2Path(props.mount, 'metadata', props.path), {
        body: {
          max_versions: max,
          cas_required: casRequired,
          delete_version_after: deleteAfter.trim() === '' ? '0s' : deleteAfter.trim(),
          custom_metadata: dataOfRows(rows),
        },
      });
      props.onChanged();
    });
  };
  const m = metadata.data;
  return (
    <form onSubmit={save} className="stack">
      <dl className="facts">
        <dt>Current version</dt>
        <dd>{m?.current_version ?? '—'}</dd>
        <dt>Oldest version</dt>
        <dd>{m?.oldest_version ?? '—'}</dd>
        <dt>Updated</dt>
        <dd>{formatTime(m?.updated_time)}</dd>
      </dl>
      <label>
        Max versions (0 = the mount's setting)
        <input
          inputMode="numeric"
          value={maxVersions}
          onChange={(e) => {
            setMaxVersions(e.target.value);
          }}
        />
      </label>
      <label className="checkbox">
        <input
          type="checkbox"
          checked={casRequired}
          onChange={(e) => {
            setCasRequired(e.target.checked);
          }}
        />
        Writes must use check-and-set
      </label>
      <label>
        Delete versions after (e.g. 720h; 0s = never)
        <input
          value={deleteAfter}
          onChange={(e) => {
            setDeleteAfter(e.target.value);
          }}
        />
      </label>
      <KeyValueRows
        legend="Custom metadata (not secret: shown in clear)"
        rows={rows}
        onChange={setRows}
        masked={false}
      />
      <ErrorBox error={action.error} />
      <div className="row">
        <button type="submit" className="primary" disabled={action.busy}>
          {action.busy ? 'Saving…' : 'Save metadata'}
        </button>
      </div>
    </form>
  );
}
