/* The letter step: the letter around the personal message, filled in as the resident types
   it, and their name and street address as they type those below. When recipients or talking
   points are ticked, the server composes the letter again (letters:write_live: the greeting,
   the points and their numbered sources, written once, in letters/composition.py) and the
   sheet is swapped for it, the resident's words filled in again, and a point just ticked is
   brought into view.
   Optional: without JavaScript the section stays hidden and the next step shows the letter
   exactly as sent. No inline scripts (the site's CSP allows scripts from itself only). */
(function () {
  "use strict";

  var section = document.querySelector("[data-live-letter]");
  var field = document.getElementById("id_personal_message");
  if (!section || !field) return;
  var sheet = section.querySelector("[data-live-sheet]");
  if (!sheet || !sheet.querySelector("[data-personal-slot]")) return;
  var hint = section.getAttribute("data-hint") || "";

  // The sheet's parts, found again each time the sheet is swapped.
  var slot, lead, trail, senderSlots;
  var find = function () {
    slot = sheet.querySelector("[data-personal-slot]");
    // The blank lines that part the personal message from the text before and after it, as
    // the server composed them.
    var initial = slot.textContent;
    lead = (initial.match(/^\n*/) || [""])[0];
    trail = (initial.match(/\n*$/) || [""])[0];
    senderSlots = sheet.querySelectorAll("[data-sender-slot]");
  };

  var update = function () {
    // As the server does: Windows line ends become plain ones, outer blank space goes.
    var text = field.value.replace(/\r\n/g, "\n").trim();
    slot.textContent = lead + (text || hint) + trail;
    slot.classList.toggle("personal-slot-empty", text === "");
  };

  // Keep the resident's words in view inside the (scrolling) letter.
  var reveal = function () {
    // The sheet is positioned, so it is the slot's offsetParent.
    var top = slot.offsetTop;
    if (top < sheet.scrollTop || top > sheet.scrollTop + sheet.clientHeight - 40) {
      sheet.scrollTop = Math.max(0, top - 40);
    }
  };

  field.addEventListener("input", function () {
    update();
    reveal();
  });

  // The sender's fields, on one line as the server has them (letters.composition.single_line).
  var typed = function (id) {
    var input = document.getElementById(id);
    return input ? input.value.replace(/\s+/g, " ").trim() : "";
  };
  var fillSender = function () {
    var first = typed("id_first_name");
    var last = typed("id_last_name");
    var street = typed("id_street_address");
    var values = {
      name: (first + " " + last).trim() || section.getAttribute("data-hint-name") || "",
      first: first || section.getAttribute("data-hint-first-name") || "",
      last: last,
      // The address's line goes with it when it is empty.
      street: street ? street + "\n" : ""
    };
    senderSlots.forEach(function (slot) {
      slot.textContent = values[slot.getAttribute("data-sender-slot")] || "";
    });
  };
  ["id_first_name", "id_last_name", "id_street_address"].forEach(function (id) {
    var input = document.getElementById(id);
    if (input) input.addEventListener("input", fillSender);
  });

  // Recipients and talking points: the letter as the server composes it for those ticked.
  // Only their ids go in the address; a reply that comes after a newer request is dropped,
  // and one that fails leaves the letter as it was (the next step shows it exactly).
  var url = section.getAttribute("data-live-url");
  var form = section.closest("form");
  var asked = 0;
  var timer = null;
  var ticked = null; // the talking point just ticked, to bring into view
  var recompose = function () {
    var query = new URLSearchParams();
    form.querySelectorAll(
      'input[name="recipients"]:checked, input[name="talking_points"]:checked'
    ).forEach(function (box) {
      query.append(box.name, box.value);
    });
    var mine = ++asked;
    window.fetch(url + "?" + query.toString(), {
      credentials: "same-origin",
      headers: { Accept: "text/html" }
    }).then(function (response) {
      if (!response.ok) throw new Error(response.status);
      return response.text();
    }).then(function (html) {
      if (mine !== asked) return;
      var fresh = new DOMParser().parseFromString(html, "text/html")
        .querySelector("[data-live-sheet]");
      if (!fresh || !fresh.querySelector("[data-personal-slot]")) return;
      var scrolled = sheet.scrollTop;
      sheet.replaceWith(fresh);
      sheet = fresh;
      sheet.scrollTop = scrolled;
      find();
      update();
      fillSender();
      var point = ticked && sheet.querySelector('[data-point="' + ticked + '"]');
      if (point) {
        sheet.scrollTop = Math.max(0, point.offsetTop - 40);
        point.classList.add("live-point-added");
      }
    }).catch(function () { /* the letter stays as it was */ });
  };
  if (url && form && window.fetch && window.URLSearchParams && window.DOMParser) {
    form.addEventListener("change", function (event) {
      var name = event.target && event.target.name;
      if (name !== "recipients" && name !== "talking_points") return;
      // Ids are numbers (the form's choices); anything else is not looked for.
      ticked = name === "talking_points" && event.target.checked &&
        /^\d+$/.test(event.target.value) ? event.target.value : null;
      window.clearTimeout(timer);
      timer = window.setTimeout(recompose, 150);
    });
  }

  find();
  section.hidden = false;
  update();
  fillSender();
  reveal();
})();
