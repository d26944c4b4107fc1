// Public quiz page: one question at a time, a progress bar and a back button, on top
// of a plain form that works without this script. Reports funnel steps to the server.
(function () {
  "use strict";
  var form = document.querySelector("[data-quiz-form]");
  if (!form) { return; }
  var steps = Array.prototype.slice.call(form.querySelectorAll("[data-step]"));
  if (steps.length < 2) { return; }
  var nav = form.querySelector("[data-nav]");
  var back = form.querySelector("[data-back]");
  var next = form.querySelector("[data-next]");
  var progress = document.querySelector("[data-progress]");
  var bar = progress && progress.querySelector("[role=progressbar]");
  var label = progress && progress.querySelector(".quiz-progress-text");
  var eventsUrl = form.getAttribute("data-events-url");
  var token = form.getAttribute("data-token");
  var reported = {};
  var current = 0;

  var tracking = {};
  Array.prototype.forEach.call(form.querySelectorAll("input[type=hidden]"), function (input) {
    if (/^(utm_|fbclid|ttclid|gclid|referrer)/.test(input.name)) { tracking[input.name] = input.value; }
  });

  function report(kind, questionId) {
    var key = kind + ":" + (questionId || "");
    if (!eventsUrl || !window.fetch || reported[key]) { return; }
    reported[key] = true;
    // Tells the server to look up the steps already stored for this form.
    if (!form.querySelector("input[name=steps]")) {
      var marker = document.createElement("input");
      marker.type = "hidden";
      marker.name = "steps";
      marker.value = "reported";
      form.appendChild(marker);
    }
    var body = { token: token, kind: kind };
    if (questionId) { body.question_id = Number(questionId); }
    Object.keys(tracking).forEach(function (name) { body[name] = tracking[name]; });
    fetch(eventsUrl, {
      method: "POST",
      credentials: "omit",
      keepalive: true,
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body),
    }).catch(function () {});
  }

  var startAnnounced = false;
  // Other scripts of the page (the ad pixels) hear when the visitor starts.
  function announceStart() {
    if (startAnnounced || typeof window.CustomEvent !== "function") { return; }
    startAnnounced = true;
    document.dispatchEvent(new CustomEvent("orbitflow:quiz-start"));
  }

  function inputs(step) {
    return Array.prototype.slice.call(step.querySelectorAll("input:not([type=hidden])"));
  }

  function answered(step) {
    return inputs(step).some(function (input) {
      if (input.type === "radio" || input.type === "checkbox") { return input.checked; }
      return input.value.trim() !== "";
    });
  }

  function setError(container, errorNode, message) {
    if (!errorNode) { return; }
    errorNode.textContent = message || "";
    errorNode.hidden = !message;
    container.classList.toggle("has-error", Boolean(message));
    inputs(container).forEach(function (input) {
      if (message) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
    });
  }

  function checkQuestion(step) {
    var error = step.querySelector(".quiz-error");
    var message = "";
    if (step.hasAttribute("data-required") && !answered(step)) {
      message = step.getAttribute("data-kind") === "multiple" ? "Choose at least one answer." : "Answer this question.";
    } else if (step.getAttribute("data-kind") === "number" && answered(step)) {
      var input = inputs(step)[0];
      var value = Number(input.value.replace(",", ".").replace(/\s/g, ""));
      var min = input.getAttribute("data-min");
      var max = input.getAttribute("data-max");
      if (isNaN(value)) { message = "Enter a number."; }
      else if (min !== null && value < Number(min)) { message = "Enter " + min + " or more."; }
      else if (max !== null && value > Number(max)) { message = "Enter " + max + " or less."; }
    }
    setError(step, error, message);
    return !message;
  }

  function checkContact(step) {
    var ok = true;
    Array.prototype.forEach.call(step.querySelectorAll("[data-required]"), function (input) {
      var field = input.closest(".quiz-field");
      var error = field && field.querySelector(".quiz-error");
      var missing = input.type === "checkbox" ? !input.checked : input.value.trim() === "";
      var message = "";
      if (missing) {
        message = input.type === "checkbox" ? "Tick the box to agree, so we may contact you." : "Please fill this in.";
      } else if (input.type === "email" && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(input.value.trim())) {
        message = "Enter a valid email address.";
      }
      if (field) { setError(field, error, message); }
      if (message && ok) { input.focus(); ok = false; }
    });
    return ok;
  }

  function show(index, focus) {
    current = Math.max(0, Math.min(index, steps.length - 1));
    steps.forEach(function (step, i) {
      if (i === current) { step.removeAttribute("data-inactive"); } else { step.setAttribute("data-inactive", ""); }
    });
    var last = current === steps.length - 1;
    nav.hidden = false;
    back.hidden = current === 0;
    next.hidden = last;
    nav.classList.toggle("quiz-nav-single", current === 0 || last);
    if (progress) {
      progress.hidden = false;
      bar.style.width = Math.round((current / (steps.length - 1)) * 100) + "%";
      bar.setAttribute("aria-valuenow", String(current + 1));
      var text = last ? "Last step" : "Question " + (current + 1) + " of " + (steps.length - 1);
      bar.setAttribute("aria-valuetext", text);
      label.textContent = text;
    }
    if (focus) {
      var step = steps[current];
      var first = step.querySelector("input:not([type=hidden])");
      var legend = step.querySelector("legend");
      if (legend) {
        legend.setAttribute("tabindex", "-1");
        legend.focus();
      } else if (first) {
        first.focus();
      }
    }
  }

  function advance() {
    var step = steps[current];
    if (step.hasAttribute("data-contact")) { return; }
    if (!checkQuestion(step)) {
      var input = inputs(step)[0];
      if (input) { input.focus(); }
      return;
    }
    report("start");
    announceStart();
    if (answered(step)) { report("answer", step.getAttribute("data-question-id")); }
    show(current + 1, true);
  }

  next.addEventListener("click", advance);
  back.addEventListener("click", function () { show(current - 1, true); });
  form.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Enter" && target.tagName === "INPUT" && target.type !== "submit") {
      if (!steps[current].hasAttribute("data-contact")) {
        event.preventDefault();
        advance();
      }
    }
  });
  form.addEventListener("submit", function (event) {
    var firstBad = -1;
    steps.forEach(function (step, i) {
      if (firstBad === -1 && !step.hasAttribute("data-contact") && !checkQuestion(step)) { firstBad = i; }
    });
    if (firstBad !== -1) {
      event.preventDefault();
      show(firstBad, true);
      return;
    }
    if (!checkContact(steps[steps.length - 1])) {
      event.preventDefault();
      return;
    }
    var button = form.querySelector(".quiz-submit");
    if (button) {
      // The server also refuses a second submission of this form; this spares the round trip.
      window.setTimeout(function () { button.disabled = true; button.textContent = "Sending…"; }, 0);
    }
  });

  form.closest(".quiz-card").classList.add("quiz-js");
  var start = 0;
  if (form.hasAttribute("data-has-errors")) {
    steps.some(function (step, i) {
      if (step.classList.contains("has-error") || step.querySelector(".has-error")) { start = i; return true; }
      return false;
    });
  }
  show(start, form.hasAttribute("data-has-errors"));
})();
