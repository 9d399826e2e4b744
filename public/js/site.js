// Progressive enhancement only: every page works without this file.
document.addEventListener('htmx:configRequest', (event) => {
  // A boosted swap replaces the body's content but not <head> or the body's hx-headers, so after sign-in
  // both still hold the anonymous session's token. The freshest token is in the rendered forms.
  const form = event.detail.elt.closest ? event.detail.elt.closest('form') : null;
  const field = (form && form.querySelector('input[name="_csrf"]')) || document.querySelector('input[name="_csrf"]');
  const meta = document.querySelector('meta[name="csrf-token"]');
  const token = (field && field.value) || (meta && meta.getAttribute('content'));
  if (token) event.detail.headers['x-csrf-token'] = token;
});
document.addEventListener('htmx:beforeSwap', (event) => {
  // Refusals (403/409/422) are whole pages that say why: show them, as a browser without JS would.
  const status = event.detail.xhr.status;
  if (event.detail.boosted && status >= 400 && status < 500) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
