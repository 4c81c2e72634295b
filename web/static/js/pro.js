// Professional pages: the hours editor (add and remove intervals) and the service form.
"use strict";
(function () {
  document.addEventListener("DOMContentLoaded", function () {
    const hoursForm = document.querySelector("[data-hours-form]");
    if (hoursForm) {
      const maxRows = parseInt(hoursForm.dataset.maxRows, 10) || 12;
      hoursForm.querySelectorAll("[data-day]").forEach(function (day) {
        const key = day.dataset.day;
        const add = day.querySelector("[data-add-interval]");
        // The spare empty row is for browsers without JavaScript; "Add hours" replaces it.
        const spare = day.querySelector("[data-spare]");
        if (spare) spare.remove();
        function rows() { return day.querySelectorAll("[data-interval]"); }
        function wireRemove(row) {
          const remove = row.querySelector("[data-remove-interval]");
          if (!remove) return;
          remove.hidden = false;
          remove.addEventListener("click", function () {
            if (rows().length > 1) {
              row.remove();
            } else {
              row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
            }
            add.hidden = rows().length >= maxRows;
            (add.hidden ? day.querySelector("input") : add).focus();
          });
        }
        rows().forEach(wireRemove);
        add.hidden = rows().length >= maxRows;
        add.addEventListener("click", function () {
          const last = rows()[rows().length - 1];
          const used = [...rows()].map(function (row) {
            return parseInt(row.querySelector("input").name.split("-")[1], 10);
          });
          const index = Math.max.apply(null, used.concat([-1])) + 1;
          const row = last.cloneNode(true);
          row.querySelectorAll(".error").forEach(function (e) { e.remove(); });
          row.querySelectorAll("input, label").forEach(function (element) {
            ["name", "id", "for"].forEach(function (attribute) {
              const value = element.getAttribute(attribute);
              if (value) element.setAttribute(attribute, value.replace(/-\d+-/, "-" + index + "-"));
            });
            if (element.tagName === "INPUT") {
              element.value = "";
              element.removeAttribute("aria-invalid");
              element.removeAttribute("aria-describedby");
            }
          });
          last.after(row);
          wireRemove(row);
          add.hidden = rows().length >= maxRows;
          row.querySelector("input").focus();
        });
      });
    }

    // Show the chosen photo at once (it is checked on the server when saved).
    const photo = document.querySelector("input[type=file][name=photo]");
    let avatar = document.querySelector(".profile-head .avatar");
    if (photo && avatar) {
      photo.addEventListener("change", function () {
        const file = photo.files && photo.files[0];
        if (!file || !/^image\/(png|jpeg|webp)$/.test(file.type)) return;
        const preview = document.createElement("img");
        preview.className = avatar.className;
        preview.alt = "Preview of the new photo";
        preview.src = URL.createObjectURL(file);
        avatar.replaceWith(preview);
        avatar = preview;
      });
    }

    // The capacity field only matters for group classes.
    const serviceForm = document.querySelector("[data-service-form]");
    if (serviceForm) {
      const groupOnly = serviceForm.querySelector("[data-group-only]");
      const kinds = serviceForm.querySelectorAll("input[name=kind]");
      function sync() {
        const checked = serviceForm.querySelector("input[name=kind]:checked");
        if (groupOnly && checked) groupOnly.hidden = checked.value !== "group";
      }
      if (kinds.length) {
        kinds.forEach(function (input) { input.addEventListener("change", sync); });
        sync();
      } else if (groupOnly && groupOnly.hasAttribute("data-hidden-initially")) {
        groupOnly.hidden = true;
      }
    }
  });
})();
