// Quiz builder conveniences: the slug checked as it is typed, a slug suggested from the
// title, question fields shown for the chosen kind, and a copy button for the embed code.
(function () {
  "use strict";
  var form = document.querySelector("[data-slug-check]");
  if (form && window.fetch) {
    var slug = form.querySelector("[data-slug-input]");
    var source = form.querySelector("[data-slug-source]");
    var status = document.getElementById("slug-status");
    var url = form.getAttribute("data-slug-check");
    var quizId = form.getAttribute("data-quiz-id");
    var timer = null;
    var edited = slug.value !== "";

    var check = function () {
      var value = slug.value.trim();
      if (!value) { status.textContent = ""; return; }
      var query = "?slug=" + encodeURIComponent(value) + (quizId ? "&quiz_id=" + quizId : "");
      fetch(url + query, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          if (slug.value.trim() !== value) { return; }
          var message = data.message + (data.suggestion ? " Try “" + data.suggestion + "”." : "");
          status.textContent = message;
          status.className = data.available ? "hint slug-ok" : "error";
          slug.closest(".field").classList.toggle("has-error", !data.available);
          slug.setAttribute("aria-invalid", data.available ? "false" : "true");
        })
        .catch(function () {});
    };
    var later = function () { window.clearTimeout(timer); timer = window.setTimeout(check, 250); };
    slug.addEventListener("input", function () { edited = true; later(); });
    if (source) {
      source.addEventListener("input", function () {
        if (edited) { return; }
        slug.value = source.value.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
          .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 80);
        later();
      });
    }
  }

  var kind = document.querySelector("[data-kind-select]");
  if (kind) {
    var parts = Array.prototype.slice.call(document.querySelectorAll(".kind-part"));
    var update = function () {
      parts.forEach(function (part) {
        var show = part.getAttribute("data-kinds").split(" ").indexOf(kind.value) !== -1;
        part.hidden = !show;
      });
    };
    kind.addEventListener("change", update);
    update();
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-copy]"), function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.value).then(function () {
        button.textContent = "Copied";
        window.setTimeout(function () { button.textContent = "Copy"; }, 1500);
      });
    });
  });
})();
