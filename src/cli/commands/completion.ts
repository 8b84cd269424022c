/**
 * `ferry completion bash|zsh`: a shell completion script generated from the command tree, so a new command
 * completes without touching this file. Region names (`--region`, `--to`) come from `ferry region list
 * --quiet`; file options complete file names.
 * @module
 */
import type { Command, Option } from 'commander';
import { example } from '../context.js';
import { UsageError } from '../errors.js';

/** Options whose value is a file name, a region, or one of a few words. */
const FILE_OPTIONS = ['--file', '--catalog', '--settings', '--data'];
const REGION_OPTIONS = ['--region', '--to'];
const WORD_OPTIONS: Record<string, string> = {
  '--output': 'table json',
  '-o': 'table json',
  '--on-interrupt': 'ask cancel leave',
  '--default-output': 'table json',
};

interface Node {
  path: string;
  subcommands: string[];
  options: string[];
}

function flagsOf(options: readonly Option[]): string[] {
  return options.flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined));
}

/** Every command path with its subcommand names and options (the program's options apply everywhere). */
export function commandTree(program: Command): Node[] {
  const global = [...flagsOf(program.options), '--help'];
  const nodes: Node[] = [];
  const walk = (command: Command, path: string) => {
    const own = command === program ? [] : flagsOf(command.options);
    nodes.push({
      path,
      subcommands: command.commands.map((c) => c.name()),
      options: [...new Set([...own, ...global])],
    });
    for (const sub of command.commands) walk(sub, path === '' ? sub.name() : `${path} ${sub.name()}`);
  };
  walk(program, '');
  return nodes;
}

function caseTable(nodes: Node[], pick: (n: Node) => string[]): string {
  return nodes.map((n) => `    "${n.path}") echo "${pick(n).join(' ')}" ;;`).join('\n');
}

/** Shell functions both scripts share (plain POSIX-ish syntax that bash and zsh both read). */
function sharedFunctions(nodes: Node[]): string {
  return `_ferry_subcommands() {
  case "$1" in
${caseTable(nodes, (n) => n.subcommands)}
  esac
}
_ferry_options() {
  case "$1" in
${caseTable(nodes, (n) => n.options)}
  esac
}
_ferry_value_kind() {
  case "$1" in
    ${REGION_OPTIONS.join('|')}) echo region ;;
    ${FILE_OPTIONS.join('|')}) echo file ;;
${Object.entries(WORD_OPTIONS)
  .map(([flag, words]) => `    ${flag}) echo "words ${words}" ;;`)
  .join('\n')}
  esac
}`;
}

export function bashScript(nodes: Node[]): string {
  return `# ferry completion for bash. Load it with:  source <(ferry completion bash)
# or save it:  ferry completion bash > /etc/bash_completion.d/ferry
${sharedFunctions(nodes)}
_ferry() {
  local cur prev cmdpath word kind i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmdpath=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case "$word" in -*) continue ;; esac
    if [[ " $(_ferry_subcommands "$cmdpath") " == *" $word "* ]]; then cmdpath="\${cmdpath:+$cmdpath }$word"; fi
  done
  kind="$(_ferry_value_kind "$prev")"
  case "$kind" in
    region) COMPREPLY=($(compgen -W "$(ferry region list --quiet 2>/dev/null)" -- "$cur")); return ;;
    file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    words*) COMPREPLY=($(compgen -W "\${kind#words }" -- "$cur")); return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_ferry_options "$cmdpath")" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(_ferry_subcommands "$cmdpath")" -- "$cur"))
  fi
}
complete -F _ferry ferry
`;
}

export function zshScript(nodes: Node[]): string {
  return `#compdef ferry
# ferry completion for zsh. Load it with:  source <(ferry completion zsh)   (after compinit)
# or save it as _ferry in a folder of $fpath.
${sharedFunctions(nodes)}
_ferry() {
  local cmdpath word kind i
  cmdpath=""
  for ((i = 2; i < CURRENT; i++)); do
    word="\${words[i]}"
    [[ "$word" == -* ]] && continue
    if [[ " $(_ferry_subcommands "$cmdpath") " == *" $word "* ]]; then cmdpath="\${cmdpath:+$cmdpath }$word"; fi
  done
  kind="$(_ferry_value_kind "\${words[CURRENT-1]}")"
  case "$kind" in
    region) compadd -- \${(f)"$(ferry region list --quiet 2>/dev/null)"}; return ;;
    file) _files; return ;;
    words*) compadd -- \${=kind#words }; return ;;
  esac
  if [[ "\${words[CURRENT]}" == -* ]]; then
    compadd -- \${=$(_ferry_options "$cmdpath")}
  else
    compadd -- \${=$(_ferry_subcommands "$cmdpath")}
  fi
}
if [[ "\${funcstack[1]}" == "_ferry" ]]; then _ferry "$@"; else compdef _ferry ferry; fi
`;
}

export function registerCompletionCommand(program: Command): void {
  example(
    program
      .command('completion')
      .argument('<shell>', 'bash or zsh')
      .description('Print a shell completion script.'),
    'source <(ferry completion bash)        # in ~/.bashrc',
    'ferry completion zsh > "${fpath[1]}/_ferry"',
  ).action((shell: string) => {
    const nodes = commandTree(program);
    if (shell === 'bash') process.stdout.write(bashScript(nodes));
    else if (shell === 'zsh') process.stdout.write(zshScript(nodes));
    else throw new UsageError(`completion is available for bash and zsh, not ${shell}`);
  });
}
