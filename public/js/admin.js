// Admin area, progressive enhancement only: every form works without this file.
(() => {
  // Boosted navigation runs this file again; wire the listeners once.
  if (window.adminJsWired) return;
  window.adminJsWired = true;
  // Admin pages answer a refused form with the page and its problems (422, 409, 403): show it, as a
  // browser without JavaScript would, instead of htmx's default of swapping nothing on an error status.
  document.addEventListener('htmx:beforeSwap', (event) => {
    const status = event.detail.xhr.status;
    const html = (event.detail.xhr.getResponseHeader('content-type') || '').startsWith('text/html');
    if (html && [403, 404, 409, 422].includes(status) && window.location.pathname.startsWith('/admin')) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Changing the kind re-renders the form for that kind (the "Apply kind" button does it without JS).
  document.addEventListener('change', (event) => {
    const select = event.target.closest && event.target.closest('#poll-form select[data-refresh]');
    if (!select) return;
    const apply = select.form.querySelector('button[name="_action"][value="refresh"]');
    if (apply) apply.click();
  });

  // After "add an answer / project / question", move focus to the new row's first field, so keyboard
  // and screen-reader users land where they are about to type.
  let lastAction = null;
  document.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest('#poll-form button[name="_action"]');
    lastAction = button ? button.value : null;
  });
  document.addEventListener('htmx:afterSettle', () => {
    const form = document.getElementById('poll-form');
    if (!form || !lastAction) return;
    const [verb, qi] = lastAction.split('.');
    let target = null;
    if (verb === 'addOption') {
      const labels = form.querySelectorAll(`input[name^="questions.${qi}.options."][name$=".label"]`);
      target = labels[labels.length - 1];
    } else if (verb === 'addQuestion') {
      const texts = form.querySelectorAll('input[name^="questions."][name$=".text"]');
      target = texts[texts.length - 1];
    } else if (verb === 'refresh') {
      target = form.querySelector('#f-kind');
    }
    if (!target && document.getElementById('form-problems')) target = document.getElementById('form-problems');
    if (target) target.focus();
    lastAction = null;
  });

  // "Use my current location" fills the on-site coordinates (the button stays hidden without JS).
  const wireLocate = () => {
    const button = document.querySelector('#poll-form [data-locate]');
    if (!button || !('geolocation' in navigator)) return;
    button.hidden = false;
    button.onclick = () => {
      navigator.geolocation.getCurrentPosition((position) => {
        document.getElementById('f-settings-onSite-latitude').value = position.coords.latitude.toFixed(6);
        document.getElementById('f-settings-onSite-longitude').value = position.coords.longitude.toFixed(6);
        const radius = document.getElementById('f-settings-onSite-radiusMeters');
        if (!radius.value) radius.value = '200';
      });
    };
  };
  document.addEventListener('DOMContentLoaded', wireLocate);
  document.addEventListener('htmx:afterSettle', wireLocate);
  if (document.readyState !== 'loading') wireLocate();
})();
