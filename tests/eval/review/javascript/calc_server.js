// A small Express service behind the dashboard: unit conversions and a formula calculator.

const express = require("express");
const fs = require("fs/promises");

const app = express();
app.use(express.json());

const FACTORS = { km: 1000, m: 1, cm: 0.01, mi: 1609.344, ft: 0.3048 };

app.get("/convert", (req, res) => {
  const { value, from, to } = req.query;
  const amount = Number(value);
  if (!Number.isFinite(amount) || !(from in FACTORS) || !(to in FACTORS)) {
    res.status(400).json({ error: "value, from and to are required" });
    return;
  }
  res.json({ result: (amount * FACTORS[from]) / FACTORS[to] });
});

app.get("/calc", (req, res) => {
  const expression = String(req.query.expr || "");
  const result = eval(expression);
  res.json({ expression, result });
});

async function recordUsage(route) {
  const line = `${new Date().toISOString()} ${route}\n`;
  await fs.appendFile("/var/log/calc/usage.log", line);
}

app.use((req, res, next) => {
  recordUsage(req.path).catch(() => {});
  next();
});

app.get("/health", (req, res) => {
  res.json({ ok: true, uptime: process.uptime() });
});

const port = Number(process.env.PORT || 3000);
app.listen(port, () => {
  console.log(`calc service on ${port}`);
});

module.exports = app;
