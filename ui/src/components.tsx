// Building blocks every screen uses: loading and error states, async data, masked values with
// reveal and copy, confirmation dialogs, tabs and a key/value editor.
import { useCallback, useEffect, useId, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import { errorText } from './api.js';

export function Loading(props: { label?: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      {props.label ?? 'Loading…'}
    </p>
  );
}

/** Every API failure, with the server's message; announced to screen readers. */
export function ErrorBox(props: { error: unknown; title?: string }) {
  if (props.error === undefined || props.error === null) return null;
  return (
    <div className="error" role="alert">
      {props.title === undefined ? null : <strong>{props.title} </strong>}
      {errorText(props.error)}
    </div>
  );
}

export function Notice(props: { children: ReactNode }) {
  return (
    <p className="notice" role="status">
      {props.children}
    </p>
  );
}

export interface AsyncState<T> {
  readonly data: T | undefined;
  readonly error: unknown;
  readonly loading: boolean;
  readonly reload: () => void;
}

/** Runs `load` when `deps` change (and on reload); a stale answer never overwrites a newer one. */
export function useAsync<T>(load: () => Promise<T>, deps: readonly unknown[]): AsyncState<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    loadRef.current().then(
      (data) => {
        if (live) setState({ data, loading: false });
      },
      (error: unknown) => {
        if (live) setState({ error, loading: false });
      },
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => {
    setTick((n) => n + 1);
  }, []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** Runs one action at a time with its own busy and error state. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const run = useCallback(async (action: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, setError };
}

export function valueText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function CopyButton(props: { text: string; label: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = () => {
    navigator.clipboard.writeText(props.text).then(
      () => {
        setState('copied');
      },
      () => {
        setState('failed');
      },
    );
  };
  useEffect(() => {
    if (state === 'idle') return;
    const timer = setTimeout(() => {
      setState('idle');
    }, 2000);
    return () => {
      clearTimeout(timer);
    };
  }, [state]);
  return (
    <button type="button" className="small" onClick={copy} aria-label={`Copy ${props.label}`}>
      {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed' : 'Copy'}
      <span className="visually-hidden" role="status">
        {state === 'copied' ? `${props.label} copied` : ''}
      </span>
    </button>
  );
}

/** A value shown as dots until revealed; copy works without revealing. */
export function Masked(props: { value: unknown; label: string; revealAll?: boolean }) {
  const [shown, setShown] = useState(false);
  const text = valueText(props.value);
  const visible = shown || props.revealAll === true;
  return (
    <span className="masked">
      <code className="value" data-masked={visible ? 'false' : 'true'}>
        {visible ? text : '••••••••'}
      </code>
      <button
        type="button"
        className="small"
        aria-pressed={visible}
        aria-label={`${visible ? 'Hide' : 'Reveal'} ${props.label}`}
        onClick={() => {
          setShown(!shown);
        }}
      >
        {visible ? 'Hide' : 'Reveal'}
      </button>
      <CopyButton text={text} label={props.label} />
    </span>
  );
}

/**
 * A button that asks first, in a modal <dialog> (focus moves into it, Escape cancels, focus
 * returns to the button afterwards).
 */
export function ConfirmButton(props: {
  label: string;
  question: ReactNode;
  confirmLabel?: string;
  danger?: boolean;
  disabled?: boolean;
  onConfirm: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  return (
    <>
      <button
        type="button"
        className={props.danger === true ? 'danger' : undefined}
        disabled={props.disabled}
        onClick={() => dialog.current?.showModal()}
      >
        {props.label}
      </button>
      <dialog ref={dialog} aria-labelledby={titleId}>
        <p id={titleId}>{props.question}</p>
        <div className="row">
          <button
            type="button"
            className={props.danger === true ? 'danger' : 'primary'}
            onClick={() => {
              dialog.current?.close();
              props.onConfirm();
            }}
          >
            {props.confirmLabel ?? props.label}
          </button>
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
        </div>
      </dialog>
    </>
  );
}

/** APG tabs: arrow keys move between tabs, Home/End jump, the panel follows the selection. */
export function Tabs(props: {
  label: string;
  tabs: readonly { id: string; title: string; content: () => ReactNode }[];
  selected: string;
  onSelect: (id: string) => void;
}) {
  const base = useId();
  const refs = useRef<Record<string, HTMLButtonElement | null>>({});
  const index = Math.max(
    0,
    props.tabs.findIndex((t) => t.id === props.selected),
  );
  const active = props.tabs[index];
  const move = (to: number) => {
    const tab = props.tabs[(to + props.tabs.length) % props.tabs.length];
    if (tab === undefined) return;
    props.onSelect(tab.id);
    refs.current[tab.id]?.focus();
  };
  return (
    <div className="tabs">
      <div role="tablist" aria-label={props.label}>
        {props.tabs.map((tab, i) => (
          <button
            key={tab.id}
            ref={(el) => {
              refs.current[tab.id] = el;
            }}
            type="button"
            role="tab"
            id={`${base}-tab-${tab.id}`}
            aria-selected={i === index}
            aria-controls={`${base}-panel`}
            tabIndex={i === index ? 0 : -1}
            onClick={() => {
              props.onSelect(tab.id);
            }}
            onKeyDown={(event) => {
              if (event.key === 'ArrowRight') move(i + 1);
              else if (event.key === 'ArrowLeft') move(i - 1);
              else if (event.key === 'Home') move(0);
              else if (event.key === 'End') move(props.tabs.length - 1);
              else return;
              event.preventDefault();
            }}
          >
            {tab.title}
          </button>
        ))}
      </div>
      <div
        role="tabpanel"
        id={`${base}-panel`}
        aria-labelledby={active === undefined ? undefined : `${base}-tab-${active.id}`}
        tabIndex={0}
      >
        {active?.content()}
      </div>
    </div>
  );
}

export interface Row {
  readonly id: number;
  readonly key: string;
  readonly value: string;
}

let nextRowId = 1;

export function rowsOf(data: Readonly<Record<string, unknown>>): Row[] {
  const rows = Object.entries(data).map(([key, value]) => ({
    id: nextRowId++,
    key,
    value: valueText(value),
  }));
  return rows.length > 0 ? rows : [{ id: nextRowId++, key: '', value: '' }];
}

export function newRow(): Row {
  return { id: nextRowId++, key: '', value: '' };
}

/** Key/value rows; values are masked inputs that password managers leave alone. */
export function KeyValueRows(props: {
  rows: readonly Row[];
  onChange: (rows: Row[]) => void;
  legend: string;
  masked?: boolean;
}) {
  const update = (id: number, change: Partial<Row>) => {
    props.onChange(props.rows.map((r) => (r.id === id ? { ...r, ...change } : r)));
  };
  return (
    <fieldset className="kv-rows">
      <legend>{props.legend}</legend>
      {props.rows.map((row, i) => (
        <div className="kv-row" key={row.id}>
          <label>
            <span className="visually-hidden">Key {i + 1}</span>
            <input
              value={row.key}
              placeholder="key"
              autoComplete="off"
              spellCheck={false}
              onChange={(e) => {
                update(row.id, { key: e.target.value });
              }}
            />
          </label>
          <label>
            <span className="visually-hidden">Value {i + 1}</span>
            <input
              value={row.value}
              placeholder="value"
              type={props.masked === false ? 'text' : 'password'}
              autoComplete="new-password"
              spellCheck={false}
              data-form-type="other"
              onChange={(e) => {
                update(row.id, { value: e.target.value });
              }}
            />
          </label>
          <button
            type="button"
            className="small"
            aria-label={`Remove row ${i + 1}`}
            onClick={() => {
              const rest = props.rows.filter((r) => r.id !== row.id);
              props.onChange(rest.length > 0 ? rest : [newRow()]);
            }}
          >
            Remove
          </button>
        </div>
      ))}
      <button
        type="button"
        className="small"
        onClick={() => {
          props.onChange([...props.rows, newRow()]);
        }}
      >
        Add row
      </button>
    </fieldset>
  );
}

/** Rows to data: empty keys are skipped, a duplicate key is an error naming it. */
export function dataOfRows(rows: readonly Row[]): Record<string, string> {
  const data: Record<string, string> = {};
  for (const row of rows) {
    const key = row.key.trim();
    if (key === '') {
      if (row.value !== '') throw new Error('Every value needs a key');
      continue;
    }
    if (key in data) throw new Error(`The key "${key}" appears twice`);
    data[key] = row.value;
  }
  return data;
}

export function formatTime(value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.startsWith('0001-')) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
}

export function formatSeconds(seconds: number): string {
  if (seconds <= 0) return 'never expires';
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const parts = [
    d > 0 ? `${d}d` : '',
    h > 0 ? `${h}h` : '',
    m > 0 ? `${m}m` : '',
    s > 0 ? `${s}s` : '',
  ];
  return parts.filter((p) => p !== '').join(' ');
}

/** A page title that takes focus when the screen changes, for keyboard and reader users. */
export function Title(props: { children: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {props.children}
    </h1>
  );
}

/** A labelled text input bound to a string. */
export function TextField(props: {
  label: string;
  name: string;
  value: string;
  onChange: (value: string) => void;
  type?: 'text' | 'password';
  autoComplete?: string;
  required?: boolean;
  placeholder?: string;
}) {
  return (
    <label>
      {props.label}
      <input
        name={props.name}
        type={props.type ?? 'text'}
        autoComplete={props.autoComplete}
        required={props.required}
        placeholder={props.placeholder}
        spellCheck={false}
        value={props.value}
        onChange={(e) => {
          props.onChange(e.target.value);
        }}
      />
    </label>
  );
}

/** A secret's keys and their values, each masked until revealed. */
export function DataTable(props: {
  data: Readonly<Record<string, unknown>>;
  caption: string;
  revealAll?: boolean;
}) {
  return (
    <table>
      <caption className="visually-hidden">{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">Key</th>
          <th scope="col">Value</th>
        </tr>
      </thead>
      <tbody>
        {Object.entries(props.data).map(([key, value]) => (
          <tr key={key}>
            <th scope="row">{key}</th>
            <td>
              <Masked
                value={value}
                label={`value of ${key}`}
                revealAll={props.revealAll === true}
              />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
