// The booking widget on a professional's page: month and day changes without a full
// page load, and times in the visitor's own zone. Plain links and a GET form underneath.
"use strict";
(function () {
  const box = document.getElementById("booking");
  if (!box || !window.fetch) return;

  function widget() { return box.querySelector("[data-widget]"); }

  function load(url, push, focus) {
    const target = new URL(url, location.href);
    const fetchUrl = new URL(target);
    fetchUrl.searchParams.set("fragment", "1");
    fetchUrl.hash = "";
    const current = widget();
    if (current) current.setAttribute("aria-busy", "true");
    return fetch(fetchUrl, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        box.innerHTML = html;
        enhance();
        if (push) history.pushState({ widget: true }, "", target.pathname + target.search + "#booking");
        const spot = focus && box.querySelector(focus);
        if (spot) spot.focus({ preventScroll: false });
      })
      .catch(function () { location.href = target.href; });
  }

  function enhance() {
    const form = box.querySelector("[data-zone-form]");
    if (form) {
      const button = form.querySelector("[data-js-hide]");
      if (button) button.hidden = true;
      const select = form.querySelector("select[name=tz]");
      select.addEventListener("change", function () {
        window.ConsultZone && window.ConsultZone.choose(select.value);
        const url = new URL(form.action, location.href);
        new FormData(form).forEach(function (value, key) { url.searchParams.set(key, value); });
        load(url.href, true, "select[name=tz]");
      });
    }
  }

  box.addEventListener("click", function (event) {
    const link = event.target.closest("a[data-widget-link]");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    const toTimes = link.getAttribute("href").indexOf("#times") !== -1;
    load(link.href, true, toTimes ? "#times" : "h3");
  });
  window.addEventListener("popstate", function () { load(location.href, false, null); });

  enhance();

  // First visit: the server did not know the visitor's zone yet; ask again in it.
  const current = widget();
  const zone = window.ConsultZone && window.ConsultZone.preferred();
  const params = new URLSearchParams(location.search);
  if (current && zone && !params.has("tz") && current.dataset.zone !== zone
      && current.dataset.zoneSource !== "cookie") {
    const select = current.querySelector("select[name=tz]");
    if (select && [...select.options].some(function (o) { return o.value === zone; })) {
      const url = new URL(location.href);
      url.searchParams.set("tz", zone);
      if (!url.searchParams.has("service")) {
        const form = current.querySelector("[data-zone-form]");
        if (form) new FormData(form).forEach(function (value, key) { if (key !== "tz") url.searchParams.set(key, value); });
      }
      load(url.href, false, null).then(function () {
        history.replaceState(null, "", url.pathname + url.search + location.hash);
      });
    }
  }
})();
