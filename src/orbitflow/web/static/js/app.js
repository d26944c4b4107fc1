// OrbitFlow's shared browser code: CSRF header for fetch, confirmations, error reporting.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  window.OrbitFlow = {
    csrfToken: meta ? meta.getAttribute("content") : "",
    api: function (method, url, body) {
      var options = {
        method: method,
        credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRF-Token": window.OrbitFlow.csrfToken },
      };
      if (body !== undefined) {
        options.headers["Content-Type"] = "application/json";
        options.body = JSON.stringify(body);
      }
      return fetch(url, options).then(function (response) {
        return response.text().then(function (text) {
          var data = text ? JSON.parse(text) : null;
          return { ok: response.ok, status: response.status, data: data };
        });
      });
    },
  };

  // The phone menu: the button shows and hides the navigation panel (CSS hides it only
  // once this script has marked the page, so the links stay usable without JavaScript).
  var toggle = document.querySelector(".menu-toggle");
  if (toggle) {
    document.documentElement.classList.add("has-menu-toggle");
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      toggle.closest(".topbar").classList.toggle("menu-open", open);
    });
  }

  // A table wider than the screen scrolls inside its box (.table-scroll). A box that
  // scrolls takes the keyboard's focus (arrow keys then scroll it) and is named after its
  // table, so keyboard and screen-reader users can reach the columns off-screen.
  function tableName(box) {
    var table = box.querySelector("table");
    var around = box.closest("figure, section, .card");
    var heading = around && around.querySelector("h2, h3");
    var name = (table && (table.getAttribute("aria-label") || (table.caption && table.caption.textContent))) ||
      (heading && heading.textContent) || document.title.split("·")[0];
    return name.trim() + " (scrolls sideways)";
  }
  function markScrollingTables() {
    document.querySelectorAll(".table-scroll").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth) {
        if (!box.hasAttribute("tabindex")) {
          box.setAttribute("tabindex", "0");
          box.setAttribute("role", "region");
          box.setAttribute("aria-label", tableName(box));
        }
      } else if (box.getAttribute("role") === "region") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    });
  }
  markScrollingTables();
  window.addEventListener("resize", markScrollingTables);

  // <form data-confirm="Delete this?"> asks before submitting.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  // Browser errors reach the system log through a rate-limited endpoint.
  var reported = 0;
  window.addEventListener("error", function (event) {
    if (reported >= 5 || !window.fetch) { return; }
    reported += 1;
    window.OrbitFlow.api("POST", "/api/client-errors", {
      message: String(event.message || "error").slice(0, 1000),
      source: String(event.filename || "").slice(0, 300),
      line: event.lineno || 0,
      page: window.location.pathname,
    }).catch(function () {});
  });
})();
