// Progressive enhancement only: every page works without this file.
document.addEventListener('htmx:configRequest', (event) => {
  // Forms rendered before a session existed carry no token in hx-headers; the meta tag is the source.
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) event.detail.headers['x-csrf-token'] = meta.getAttribute('content');
});
