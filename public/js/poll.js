// The poll page, progressively: a running budget total, an instant district filter, and GPS for
// on-site polls. Without this file the page still works (the server checks everything anyway).
(function () {
  'use strict';

  function initBudget(form) {
    if (form.dataset.budgetBound) return;
    form.dataset.budgetBound = '1';
    var total = Number(form.dataset.budgetTotal);
    var sum = document.getElementById('budget-sum');
    var left = document.getElementById('budget-left');
    var bar = document.getElementById('budget-bar');
    var over = document.getElementById('budget-over');
    var locale = document.documentElement.lang === 'ko' ? 'ko-KR' : 'en-GB';
    function update() {
      var chosen = 0;
      form.querySelectorAll('input[data-cost]:checked').forEach(function (input) { chosen += Number(input.dataset.cost); });
      if (sum) sum.textContent = chosen.toLocaleString(locale);
      if (left) left.textContent = Math.max(0, total - chosen).toLocaleString(locale);
      if (bar) {
        // Width by class (w0..w100), never an inline style: the CSP forbids style attributes.
        bar.className = 'fill w' + Math.min(100, Math.round((chosen / total) * 100)) + (chosen > total ? ' over' : '');
      }
      if (over) over.hidden = chosen <= total;
    }
    form.addEventListener('change', update);
    update();
  }

  function initDistrictFilter(filter) {
    if (filter.dataset.bound) return;
    filter.dataset.bound = '1';
    var select = filter.querySelector('select');
    var submit = filter.querySelector('[data-district-submit]');
    if (submit) submit.hidden = true;
    function apply() {
      var district = select.value;
      document.querySelectorAll('#vote-form li.option[data-district]').forEach(function (li) {
        // Hidden projects keep their checked state: filtering only changes what is shown.
        li.hidden = district !== '' && li.dataset.district !== district;
      });
    }
    select.addEventListener('change', apply);
    apply();
  }

  function initGeo(box) {
    if (box.dataset.bound) return;
    box.dataset.bound = '1';
    var button = box.querySelector('[data-geo-button]');
    var status = box.querySelector('[data-geo-status]');
    if (!button || !('geolocation' in navigator)) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      navigator.geolocation.getCurrentPosition(function (position) {
        box.querySelector('#latitude').value = position.coords.latitude.toFixed(6);
        box.querySelector('#longitude').value = position.coords.longitude.toFixed(6);
        status.textContent = status.dataset.ok;
      }, function () {
        status.textContent = status.dataset.denied;
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }

  function init(root) {
    root.querySelectorAll('form[data-budget-total]').forEach(initBudget);
    root.querySelectorAll('[data-district-filter]').forEach(initDistrictFilter);
    root.querySelectorAll('[data-geo]').forEach(initGeo);
  }

  if (!window.__civicPollJs) {
    window.__civicPollJs = true;
    document.addEventListener('htmx:load', function (event) { init(event.detail.elt); });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', function () { init(document); });
  else init(document);
})();
