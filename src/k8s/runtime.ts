// `coffer k8s copy-runtime DIR`: copies what `coffer` needs to run into DIR (an emptyDir shared
// with the application container): the Node binary, the shared libraries this very process has
// loaded (read from /proc/self/maps, so nothing is guessed), the dynamic loader as `lib/ld.so`,
// and the application (bin, dist, node_modules, package.json). The application container then
// runs `DIR/lib/ld.so --library-path DIR/lib DIR/node DIR/app/bin/coffer.js ...`: the loader is
// invoked directly, so the image's own libc (musl, another glibc, none at all) does not matter.
import { copyFile, cp, mkdir, readFile, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';

/** The application's parts that `coffer` needs at run time, relative to the package root. */
export const APP_PARTS = ['bin', 'dist', 'node_modules', 'package.json'] as const;

/** Shared objects mapped into this process, from /proc/self/maps text. */
export function sharedObjectsOf(maps: string): string[] {
  const found = new Set<string>();
  for (const line of maps.split('\n')) {
    const path = line.trim().split(/\s+/)[5];
    if (path === undefined || !path.startsWith('/')) continue;
    if (/\.so(\.\d+)*$/.test(path)) found.add(path);
  }
  return [...found];
}

/** "libstdc++.so.6.0.30" → "libstdc++.so.6": the name the binary asks the loader for. */
export function sonameOf(file: string): string {
  const m = /^(.*?\.so\.\d+)(\.\d+)*$/.exec(file);
  return m === null ? file : m[1]!;
}

export function isLoader(file: string): boolean {
  return /^ld-(linux|musl)[^/]*\.so(\.\d+)*$/.test(file);
}

export interface CopyResult {
  readonly libraries: readonly string[];
  readonly loader: string;
}

/**
 * Copies the runtime into `dest`. `appRoot` is the package root (where bin/coffer.js lives).
 * Native addons of node_modules are copied too but not loaded by the commands run this way.
 */
export async function copyRuntime(
  dest: string,
  appRoot: string,
  execPath: string = process.execPath,
): Promise<CopyResult> {
  const libDir = join(dest, 'lib');
  await mkdir(libDir, { recursive: true });
  const objects = sharedObjectsOf(await readFile('/proc/self/maps', 'utf8'));
  let loader = '';
  const libraries: string[] = [];
  for (const path of objects) {
    const file = basename(path);
    // Native addons (better-sqlite3 and the like) live in node_modules and are copied with it.
    if (path.includes('/node_modules/')) continue;
    const name = sonameOf(file);
    await copyFile(path, join(libDir, name));
    if (name !== file) await symlink(name, join(libDir, file)).catch(() => undefined);
    libraries.push(name);
    if (isLoader(file)) loader = name;
  }
  if (loader === '') throw new Error('no dynamic loader found among the mapped libraries');
  await copyFile(join(libDir, loader), join(libDir, 'ld.so'));
  await copyFile(execPath, join(dest, 'node'));
  for (const part of APP_PARTS) {
    await cp(join(appRoot, part), join(dest, 'app', part), {
      recursive: true,
      dereference: true,
    });
  }
  return { libraries, loader };
}
