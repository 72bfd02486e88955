/* The letter step: the letter around the personal message, filled in as the resident types.
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
  section.hidden = false;
  update();
  reveal();
})();
