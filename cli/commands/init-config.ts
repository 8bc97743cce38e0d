// The config `outheis init` writes: the five outheis agents with their manifests in
// full. A template, not a YAML dump, so that each grant carries the comment saying
// why it is there. Strings go in as JSON, which YAML reads as they are.

export interface InitPaths { vault: string; conversations: string }

const q = (s: string) => JSON.stringify(s);

export function agentsConfig(p: InitPaths, today: string): string {
  return `# outheis: the assistant on a Markdown vault (written by \`outheis init\` on ${today}).
# Five agents, each its own sandboxed process under a uid of its own. Every grant is
# written out: narrow what you like; the supervisor enforces what is here and nothing else.
#   outheis start -c outheis.yaml      run them (foreground; --detach for the background)
#   outheis chat -c outheis.yaml       talk to relay
state_dir: .outheis
journal: { fsync: batch }

agents:
  # The vault's owner and only writer: search, read, write, list; keeps a full-text
  # index current, also for edits made in an editor while outheis runs. No network, no sends.
  data:
    run: outheis:data
    args: [--vault, ${q(p.vault)}]
    qos: user
    owns: [${q(p.vault)}]
    unveil: { ${q(p.vault)}: rw }
    pledge: []
    env: [TZ]
    limits: { memory: 256MiB }

  # The gateway to a model, and the only agent with the network. It never sees the vault.
  # With no model, \`complete\` answers ENOMODEL and the others answer from the vault alone.
  # A model: --provider anthropic --model claude-sonnet-4-5, and env: [ANTHROPIC_API_KEY];
  # or --provider openai --model gpt-4o-mini, env: [OPENAI_API_KEY]; or a local Ollama:
  # --provider openai --base-url http://127.0.0.1:11434/v1 --model llama3.1.
  llm:
    run: outheis:llm
    args: [--provider, none, --budget, "200000"]
    qos: user
    pledge: [net]
    env: []
    limits: { memory: 256MiB }

  # Today's items from #date-YYYY-MM-DD / #time-HH:MM tags, \`add\`, and an Agenda.md page,
  # all through data: it reads and writes the vault only by asking.
  agenda:
    run: outheis:agenda
    after: [data]
    qos: user
    pledge: [send:data, send:llm]
    env: [TZ]
    limits: { memory: 128MiB }

  # Background insights into insights/ (written through data): recurring topics and tags,
  # stale open items, what was asked most (it reads relay's conversation log, read-only).
  pattern:
    run: outheis:pattern
    args: [--relay-log, ${q(p.conversations)}]
    after: [data]
    qos: background
    unveil: { ${q(p.conversations)}: r }
    pledge: [send:data, send:llm]
    env: [TZ]
    limits: { memory: 128MiB, cpu: 50% }

  # The user's interface: ask {text} → {text, sources}. It may ask data, agenda and llm,
  # and write only its own conversation log. A note that says "ignore your instructions"
  # can at worst make the model ask relay for something relay may do.
  relay:
    run: outheis:relay
    args: [--log, ${q(p.conversations)}]
    after: [data, agenda]
    qos: interactive
    owns: [${q(p.conversations)}]
    unveil: { ${q(p.conversations)}: rw }
    pledge: [send:data, send:agenda, send:llm]
    env: [TZ]
    limits: { memory: 128MiB }

schedules:
  insights: { cron: "0 */6 * * *", to: pattern, kind: run, qos: background, catch_up: true }
`;
}
