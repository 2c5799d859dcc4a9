/** The single page every UI path serves; app.js renders the page the path names. */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>outflow</title>
<link rel="stylesheet" href="/ui/app.css">
<script type="module" src="/ui/app.js"></script>
</head>
<body>
<header class="top">
  <a class="brand" href="/">outflow</a>
  <nav id="crumbs"></nav>
  <span id="live" class="live" title="live status">●</span>
</header>
<main id="app"><p class="muted">Loading…</p></main>
<noscript>The outflow UI needs JavaScript; the same data is at /api/pipelines.</noscript>
</body>
</html>
`;
