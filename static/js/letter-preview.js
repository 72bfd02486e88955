/* The letter step: the letter around the personal message, filled in as the resident types
   it, and their name and street address as they type those below.
   Optional: without JavaScript the section stays hidden and the next step shows the letter
   exactly as sent. No inline scripts (the site's CSP allows scripts from itself only). */
(function () {
  "use strict";

  var section = document.querySelector("[data-live-letter]");
  var field = document.getElementById("id_personal_message");
  if (!section || !field) return;
  var sheet = section.querySelector("[data-live-sheet]");
  var slot = section.querySelector("[data-personal-slot]");
  if (!sheet || !slot) return;

  // The blank lines that part the personal message from the text before and after it, as
  // the server composed them.
  var initial = slot.textContent;
  var lead = (initial.match(/^\n*/) || [""])[0];
  var trail = (initial.match(/\n*$/) || [""])[0];
  var hint = section.getAttribute("data-hint") || "";

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
  var senderSlots = sheet.querySelectorAll("[data-sender-slot]");
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

  section.hidden = false;
  update();
  fillSender();
  reveal();
})();
