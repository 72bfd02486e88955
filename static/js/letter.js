/* The letter form, enhanced. Everything here is optional: without JavaScript the same form
   works with plain checkboxes, a search button and server-side limits. No inline scripts. */
(function () {
  "use strict";

  // Characters left, under each limited textarea.
  document.querySelectorAll("[data-counter-for]").forEach(function (counter) {
    var field = document.getElementById(counter.getAttribute("data-counter-for"));
    if (!field || !field.maxLength || field.maxLength < 0) return;
    var template = counter.getAttribute("data-remaining-text") || "%s";
    counter.setAttribute("aria-live", "polite");
    var update = function () {
      var left = field.maxLength - field.value.length;
      counter.textContent = template.replace("%s", String(left));
      counter.classList.toggle("char-count-over", left <= 0);
    };
    field.addEventListener("input", update);
    update();
  });

  // Talking points: ticking one adds it to the list of what goes into the letter.
  var added = document.querySelector("[data-added-points]");
  if (added) {
    var list = added.querySelector("[data-added-list]");
    var boxes = document.querySelectorAll('input[name="talking_points"]');
    var refresh = function () {
      list.textContent = "";
      var count = 0;
      boxes.forEach(function (box) {
        if (!box.checked) return;
        var label = document.querySelector('label[for="' + box.id + '"]');
        var item = document.createElement("li");
        item.textContent = label ? label.textContent.trim() : box.value;
        list.appendChild(item);
        count += 1;
      });
      added.classList.toggle("d-none", count === 0);
    };
    boxes.forEach(function (box) { box.addEventListener("change", refresh); });
    refresh();
  }

  // Municipality picker: filter the list while typing (the Search button does it server-side).
  var search = document.getElementById("id_q");
  var select = document.getElementById("id_municipality");
  if (search && select) {
    var normalise = function (text) {
      return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
    };
    search.addEventListener("input", function () {
      var query = normalise(search.value.trim());
      Array.prototype.forEach.call(select.options, function (option) {
        if (!option.value) return;
        option.hidden = query !== "" && normalise(option.textContent).indexOf(query) === -1;
      });
    });
  }

  // After a failed submit, move focus to the error summary so it is announced.
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
})();
