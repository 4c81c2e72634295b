// Consult: small enhancements for every page. Everything works without this file.
"use strict";
(function () {
  const YEAR = 60 * 60 * 24 * 365;

  function cookie(name) {
    const match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : null;
  }
  function setCookie(name, value) {
    // Zone names are letters, digits, "/", "_", "+" and "-": all valid in a cookie as they are.
    document.cookie = name + "=" + value.replace(/[^A-Za-z0-9_\/+-]/g, "") + "; path=/; max-age=" + YEAR + "; SameSite=Lax";
  }
  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || null; } catch (e) { return null; }
  }

  // The visitor's time zone: remembered in a cookie so the server renders times in it.
  // A zone picked by hand ("tz_chosen") wins over the one the browser reports.
  const Zone = {
    detected: browserZone(),
    chosen() { return cookie("tz_chosen") === "1" ? cookie("tz") : null; },
    preferred() { return this.chosen() || this.detected; },
    choose(zone) { setCookie("tz", zone); setCookie("tz_chosen", "1"); },
  };
  window.ConsultZone = Zone;
  if (Zone.detected && !Zone.chosen() && cookie("tz") !== Zone.detected) {
    setCookie("tz", Zone.detected);
  }

  document.addEventListener("DOMContentLoaded", function () {
    // Zone pickers remember the choice.
    document.querySelectorAll("[data-tz-select]").forEach(function (select) {
      select.addEventListener("change", function () { Zone.choose(select.value); });
    });

    // A page that rendered its times in a zone the visitor did not ask for: show it
    // again in the browser's zone (only once: the cookie now carries the zone).
    const page = document.querySelector("[data-page-zone]");
    const params = new URLSearchParams(location.search);
    if (page && !params.has("tz") && Zone.preferred() && page.dataset.pageZone !== Zone.preferred()
        && page.dataset.zoneSource !== "cookie" && !sessionStorage.getItem("tz-reloaded")) {
      const select = document.querySelector("select[data-tz-select]");
      if (select && [...select.options].some(function (o) { return o.value === Zone.preferred(); })) {
        sessionStorage.setItem("tz-reloaded", "1");
        location.replace(location.href);
        return;
      }
    }

    // Copy buttons.
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      if (!navigator.clipboard) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(button.dataset.copy).then(function () {
          const label = button.textContent;
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 2000);
        });
      });
    });

    // Selects that submit their form on change; their submit button is then not needed.
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.requestSubmit(); });
    });
    document.querySelectorAll("[data-js-hide]").forEach(function (element) {
      if (element.form && element.form.querySelector("[data-autosubmit], [data-tz-select]")) element.hidden = true;
    });

    // Destructive forms ask first.
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  });
})();
