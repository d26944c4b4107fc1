// The Meta and TikTok pixels of a public quiz page. Their base code (the queues the vendors'
// snippets define) lives here, served by OrbitFlow under the page's nonce; the vendors'
// own scripts are added only once tracking is allowed. With consent required, events wait
// in the queues (Meta consent revoked, TikTok consent held) and nothing is requested from
// the vendors until the visitor ticks the quiz's consent box.
//   PageView on load, ViewContent when the visitor starts, and on the thank-you page
//   Lead (Meta) / SubmitForm (TikTok) with the event id the server events reuse.
(function () {
  "use strict";
  var tag = document.currentScript || document.querySelector("script[data-orbitflow-pixels]");
  if (!tag) { return; }
  var metaId = tag.getAttribute("data-meta-pixel");
  var tiktokId = tag.getAttribute("data-tiktok-pixel");
  var consent = tag.getAttribute("data-consent");
  var pageKind = tag.getAttribute("data-page");
  var eventId = tag.getAttribute("data-event-id");
  var loaded = false;

  function addScript(src) {
    var script = document.createElement("script");
    script.async = true;
    script.src = src;
    document.head.appendChild(script);
  }

  // Meta's base code: fbq queues its calls until fbevents.js takes them over.
  if (metaId && !window.fbq) {
    var fbq = function () {
      if (fbq.callMethod) { fbq.callMethod.apply(fbq, arguments); } else { fbq.queue.push(arguments); }
    };
    window.fbq = fbq;
    if (!window._fbq) { window._fbq = fbq; }
    fbq.push = fbq;
    fbq.loaded = true;
    fbq.version = "2.0";
    fbq.queue = [];
  }

  // TikTok's base code: ttq records its calls until events.js replays them.
  if (tiktokId && !window.ttq) {
    window.TiktokAnalyticsObject = "ttq";
    var ttq = window.ttq = [];
    ttq.methods = ["page", "track", "identify", "instances", "debug", "on", "off", "once", "ready", "alias",
      "group", "enableCookie", "disableCookie", "holdConsent", "revokeConsent", "grantConsent"];
    ttq.setAndDefer = function (target, method) {
      target[method] = function () { target.push([method].concat(Array.prototype.slice.call(arguments, 0))); };
    };
    for (var i = 0; i < ttq.methods.length; i++) { ttq.setAndDefer(ttq, ttq.methods[i]); }
    ttq.instance = function (id) {
      var instance = ttq._i[id] || [];
      for (var n = 0; n < ttq.methods.length; n++) { ttq.setAndDefer(instance, ttq.methods[n]); }
      return instance;
    };
    ttq.load = function (id, options) {
      var url = "https://analytics.tiktok.com/i18n/pixel/events.js";
      ttq._i = ttq._i || {};
      ttq._i[id] = [];
      ttq._i[id]._u = url;
      ttq._t = ttq._t || {};
      ttq._t[id] = +new Date();
      ttq._o = ttq._o || {};
      ttq._o[id] = options || {};
      addScript(url + "?sdkid=" + encodeURIComponent(id) + "&lib=ttq");
    };
  }

  var waiting = consent === "required";
  if (metaId) {
    if (waiting) { window.fbq("consent", "revoke"); }
    window.fbq("init", metaId);
  }
  if (tiktokId && waiting) { window.ttq.holdConsent(); }

  function load() {
    if (loaded) { return; }
    loaded = true;
    if (metaId) {
      if (waiting) { window.fbq("consent", "grant"); }
      addScript("https://connect.facebook.net/en_US/fbevents.js");
    }
    if (tiktokId) {
      if (waiting) { window.ttq.grantConsent(); }
      window.ttq.load(tiktokId);
    }
  }

  function track(metaEvent, tiktokEvent, id) {
    if (metaId) {
      if (id) { window.fbq("track", metaEvent, {}, { eventID: id }); } else { window.fbq("track", metaEvent); }
    }
    if (tiktokId && tiktokEvent) {
      if (tiktokEvent === "page") { window.ttq.page(); }
      else if (id) { window.ttq.track(tiktokEvent, {}, { event_id: id }); }
      else { window.ttq.track(tiktokEvent); }
    }
  }

  track("PageView", "page");
  if (pageKind === "thanks" && eventId) {
    track("Lead", "SubmitForm", eventId);
  }
  var started = false;
  document.addEventListener("orbitflow:quiz-start", function () {
    if (started) { return; }
    started = true;
    track("ViewContent", "ViewContent");
  });

  if (!waiting) {
    load();
    return;
  }
  var box = document.querySelector("input[name=consent]");
  if (!box) { return; }  // no consent box on this quiz: consent cannot be given here
  function onChange() { if (box.checked) { load(); } }
  box.addEventListener("change", onChange);
  onChange();
})();
