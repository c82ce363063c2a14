// `coffer completion bash|zsh`: prints a shell completion script for the command words (groups
// and their subcommands), generated from the CLI's own command tree so it never drifts. After
// the last command word it falls back to file names.
import type { CliIo, Command, CommandGroup } from './command.js';

const SHELLS = ['bash', 'zsh'] as const;

/** Every group's path ("" for the top, "kv", "kv metadata") with its child words. */
function groupWords(root: CommandGroup, extraTop: readonly string[]): [string, string[]][] {
  const out: [string, string[]][] = [];
  const walk = (group: CommandGroup, path: string): void => {
    const words = Object.keys(group.children).sort();
    out.push([path, path === '' ? [...words, ...extraTop].sort() : words]);
    for (const word of words) {
      const child = group.children[word]!;
      if (child.kind === 'group') walk(child, path === '' ? word : `${path} ${word}`);
    }
  };
  walk(root, '');
  return out;
}

function caseArms(
  groups: readonly [string, string[]][],
  assign: (words: string) => string,
): string {
  return groups.map(([path, words]) => `    "${path}") ${assign(words.join(' '))} ;;`).join('\n');
}

export function bashCompletion(root: CommandGroup, extraTop: readonly string[]): string {
  return `# bash completion for coffer: source <(coffer completion bash)
_coffer() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath="" words="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      -*) ;;
      *) cmdpath="\${cmdpath:+$cmdpath }\${COMP_WORDS[i]}" ;;
    esac
  done
  case "$cmdpath" in
${caseArms(groupWords(root, extraTop), (w) => `words="${w}"`)}
    *) words="" ;;
  esac
  if [[ -n "$words" && "$cur" != -* ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  else
    COMPREPLY=()
  fi
}
complete -o default -F _coffer coffer
`;
}

export function zshCompletion(root: CommandGroup, extraTop: readonly string[]): string {
  return `#compdef coffer
# zsh completion for coffer: source <(coffer completion zsh), after compinit
_coffer() {
  local cmdpath="" w
  local -a cmds
  for w in \${words[2,CURRENT-1]}; do
    [[ $w == -* ]] || cmdpath="\${cmdpath:+$cmdpath }$w"
  done
  case "$cmdpath" in
${caseArms(groupWords(root, extraTop), (w) => `cmds=(${w})`)}
    *) cmds=() ;;
  esac
  if (( \${#cmds} )) && [[ \${words[CURRENT]} != -* ]]; then
    compadd -- $cmds
  else
    _files
  fi
}
compdef _coffer coffer
`;
}

const USAGE = `Usage: coffer completion bash|zsh

  Print a shell completion script for coffer's commands.

    bash:  source <(coffer completion bash)        (or save it in /etc/bash_completion.d/coffer)
    zsh:   source <(coffer completion zsh)         (after compinit; or save it as _coffer in $fpath)`;

/** `root` is read lazily: this command is itself part of the tree it describes. */
export function completionCommand(root: () => CommandGroup, extraTop: readonly string[]): Command {
  return {
    kind: 'command',
    summary: 'Print a bash or zsh completion script',
    help: () => USAGE,
    execute(io: CliIo, _name: string, argv: readonly string[]): Promise<number> {
      const shell = argv[0];
      if (shell === '-h' || shell === '-help' || shell === '--help') {
        io.stdout(`${USAGE}\n`);
        return Promise.resolve(0);
      }
      if (argv.length !== 1 || !SHELLS.includes(shell as (typeof SHELLS)[number])) {
        io.stderr(`Error: completion takes one shell: bash or zsh\n\n${USAGE}\n`);
        return Promise.resolve(2);
      }
      io.stdout(
        shell === 'bash' ? bashCompletion(root(), extraTop) : zshCompletion(root(), extraTop),
      );
      return Promise.resolve(0);
    },
  };
}
