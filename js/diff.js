// Word-level diff of parent and child instruction, so a reader sees what an operator added.

export function tokenize(text) {
  return (text || "").split(/(\s+)/).filter((t) => t.length > 0);
}

// Longest common subsequence over words; returns [{op: "same"|"add"|"del", text}].
// Long texts are capped: past ~600 words a diff is unreadable anyway.
export function wordDiff(a, b, cap = 600) {
  const x = tokenize(a).slice(0, cap * 2);
  const y = tokenize(b).slice(0, cap * 2);
  const n = x.length;
  const m = y.length;
  const dp = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      dp[i][j] = x[i] === y[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
    }
  }
  const out = [];
  const push = (op, text) => {
    const last = out[out.length - 1];
    if (last && last.op === op) last.text += text;
    else out.push({ op, text });
  };
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      push("same", x[i]);
      i++;
      j++;
    } else if (dp[i + 1][j] >= dp[i][j + 1]) {
      push("del", x[i]);
      i++;
    } else {
      push("add", y[j]);
      j++;
    }
  }
  while (i < n) push("del", x[i++]);
  while (j < m) push("add", y[j++]);
  return out;
}
