/* The letter form, enhanced. Everything here is optional: without JavaScript the same form
   works with plain checkboxes, a search button and server-side limits. No inline scripts. */
(function () {
  "use strict";

  // The page's language for numbers and plurals: "1,234" / "1 234" (no-break space, as the
  // server writes it; browsers write French thousands with a narrow one).
  var lang = document.documentElement.lang || undefined;
  var formatNumber = function (n) {
    var text = window.Intl ? new Intl.NumberFormat(lang).format(n) : String(n);
    return text.replace(/\u202f/g, "\u00a0");
  };
  var pluralRule = window.Intl && Intl.PluralRules ? new Intl.PluralRules(lang) : null;

  // The character count under each limited text field, as GOV.UK's: people may type past the
  // limit (nothing is cut), and the count says by how much. Screen readers hear the count
  // once typing pauses, not at every key.
  document.querySelectorAll("[data-counter-for]").forEach(function (counter) {
    var field = document.getElementById(counter.getAttribute("data-counter-for"));
    var limit = parseInt(counter.getAttribute("data-limit"), 10);
    if (!field || !limit) return;
    var announcer = document.createElement("span");
    announcer.className = "visually-hidden";
    announcer.setAttribute("aria-live", "polite");
    counter.parentNode.insertBefore(announcer, counter.nextSibling);
    var described = (field.getAttribute("aria-describedby") || "").split(" ");
    if (described.indexOf(counter.id) === -1) {
      described.push(counter.id);
      field.setAttribute("aria-describedby", described.join(" ").trim());
    }
    var timer = null;
    var update = function (announce) {
      var left = limit - field.value.length;
      var count = Math.abs(left);
      var form = pluralRule && pluralRule.select(count) === "one" ? "one" : "other";
      var template = counter.getAttribute(
        (left < 0 ? "data-over-" : "data-remaining-") + form
      );
      counter.textContent = template.replace("%s", formatNumber(count));
      counter.classList.toggle("char-count-over", left < 0);
      counter.classList.toggle("text-body-secondary", left >= 0);
      if (announce) {
        window.clearTimeout(timer);
        timer = window.setTimeout(function () {
          announcer.textContent = counter.textContent;
        }, 1000);
      }
    };
    field.addEventListener("input", function () { update(true); });
    update(false);
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

  // "Copy the letter": the letter is plain text in a read-only field anyone can select; with
  // the clipboard available, one button copies it.
  document.querySelectorAll("[data-copy-from]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy-from"));
    if (!source || !navigator.clipboard) return;
    var status = button.parentNode.querySelector("[data-copy-status]");
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.value).then(
        function () {
          if (status) status.textContent = button.getAttribute("data-copied-text");
        },
        function () {
          source.focus();
          source.select();
        }
      );
    });
  });

  // After a failed submit, move focus to the error summary so it is announced.
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
})();
