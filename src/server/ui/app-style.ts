/** Styles of the web UI: plain CSS, sized for a laptop screen, no external fonts. */
export const APP_CSS = String.raw`
:root {
  --bg: #f6f7f9; --panel: #fff; --ink: #1c2330; --muted: #5f6b7a; --line: #dde2e8;
  --accent: #2457c5; --ok: #1f8a4c; --warn: #b7791f; --bad: #c53030; --run: #2b6cb0; --skip: #718096;
  --added: #2f9e5b; --changed: #2b6cb0; --removed: #dd8a1c; --rejected: #c53030;
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: var(--bg); }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
.top { display: flex; align-items: center; gap: 16px; padding: 10px 24px; background: #1c2330; color: #fff; }
.top .brand { color: #fff; font-weight: 700; font-size: 17px; letter-spacing: .3px; }
.top nav { flex: 1; color: #cbd5e0; }
.top nav a { color: #cbd5e0; }
.live { font-size: 12px; color: #718096; }
.live.on { color: #48bb78; }
main { max-width: 1180px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 22px; margin: 4px 0 4px; }
h2 { font-size: 16px; margin: 28px 0 10px; }
.muted { color: var(--muted); }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.row { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
.spacer { flex: 1; }
table { width: 100%; border-collapse: collapse; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .4px; color: var(--muted); background: #fafbfc; font-weight: 600; }
tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; background: var(--skip); }
.badge.success { background: var(--ok); } .badge.partial { background: var(--warn); } .badge.failed, .badge.invalid { background: var(--bad); }
.badge.running { background: var(--run); } .badge.cancelled { background: #4a5568; } .badge.skipped, .badge.never { background: var(--skip); }
button { white-space: nowrap; font: inherit; padding: 5px 14px; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button:disabled { background: #a0aec0; border-color: #a0aec0; cursor: default; }
button.secondary { background: #fff; color: var(--accent); }
.error { color: var(--bad); white-space: pre-wrap; word-break: break-word; }
.errorbox { border-left: 4px solid var(--bad); background: #fff5f5; padding: 10px 12px; border-radius: 4px; margin: 10px 0; white-space: pre-wrap; word-break: break-word; }
pre.config { background: #1c2330; color: #e2e8f0; padding: 14px 16px; border-radius: 8px; overflow: auto; font-size: 13px; max-height: 420px; }
.counts { display: grid; grid-template-columns: repeat(auto-fill, minmax(118px, 1fr)); gap: 10px; }
.count { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; }
.count .v { font-size: 20px; font-weight: 700; font-variant-numeric: tabular-nums; }
.count .k { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .4px; }
.count.rejected .v { color: var(--rejected); }
.nowrap { white-space: nowrap; }
th.barcell, td.barcell { width: 45%; }
.bar { height: 10px; background: var(--accent); border-radius: 3px; min-width: 2px; }
.legend { display: flex; gap: 14px; font-size: 12px; color: var(--muted); margin-top: 6px; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
svg text { font-family: inherit; }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; }
.pager { display: flex; gap: 8px; align-items: center; margin-top: 8px; }
.progress { margin-top: 8px; color: var(--run); font-weight: 600; }
form.token { display: flex; gap: 8px; margin-top: 12px; }
form.token input { flex: 1; font: inherit; padding: 5px 8px; border: 1px solid var(--line); border-radius: 6px; }
`;
