// Bench agent for start latency: loads as an agent's entry file would, then exits.
