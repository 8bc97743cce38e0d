// Baseline for per-agent memory: an idle ES module file, the shape of every agent, without outheis.
setInterval(() => {}, 1000);
