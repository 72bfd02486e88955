// Live counter and goal thermometer from /campaigns/<slug>/counts.json.
// Progressive enhancement: the page already shows the count from when it was rendered; this
// refreshes it every minute (the JSON is cached for a minute) while the page stays open.
// Markup: an element with data-counts-url="{% url 'counts_json' campaign.slug %}" that holds
// a [data-counter] element with a <strong> number and a <progress class="goal-meter">.
(function () {
  "use strict";
  var REFRESH_MS = 60 * 1000;

  function update(root, data) {
    var number = root.querySelector("[data-counter] strong");
    if (number) {
      // Grouped as the server writes it: "10,000" / "10 000" with a no-break space.
      number.textContent = data.total
        .toLocaleString(document.documentElement.lang || undefined)
        .replace(/\u202f/g, "\u00a0");
    }
    var meter = root.querySelector("progress.goal-meter");
    if (meter && data.goal > 0) {
      var percent = Math.min(100, Math.round((100 * data.total) / data.goal));
      meter.value = percent;
      meter.textContent = percent + "%";
    }
  }

  function refresh(root) {
    if (!window.fetch) {
      return;
    }
    fetch(root.getAttribute("data-counts-url"), { credentials: "omit" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data && typeof data.total === "number") {
          update(root, data);
        }
      })
      .catch(function () {
        // Offline or blocked: keep the count the page was rendered with.
      });
  }

  document.querySelectorAll("[data-counts-url]").forEach(function (root) {
    refresh(root);
    window.setInterval(function () {
      if (!document.hidden) {
        refresh(root);
      }
    }, REFRESH_MS);
  });
})();
