// The pipeline board: drag and drop (SortableJS: mouse, touch, pen), keyboard moves,
// saving each move at once through the JSON API, and loading more cards per column.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board) { return; }
  var canEdit = board.getAttribute("data-can-edit") === "1";
  var currency = board.getAttribute("data-currency") || "USD";
  var api = board.getAttribute("data-api");
  var cardUrl = board.getAttribute("data-card-url");
  var statusBox = document.getElementById("board-status");
  // As the page's own amounts (the company's currency, its country's number layout).
  var money = new Intl.NumberFormat(board.getAttribute("data-locale") || "en", { style: "currency", currency: currency });
  var grabbed = null;

  function paint(root) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-color]"), function (el) {
      el.style.setProperty("--stage-color", el.getAttribute("data-color"));
    });
  }

  function say(message, isError) {
    statusBox.textContent = message;
    statusBox.classList.toggle("is-error", !!isError);
    statusBox.classList.add("is-visible");
  }

  function cards(list) {
    return Array.prototype.filter.call(list.children, function (el) { return el.classList.contains("kcard"); });
  }

  function lists() { return Array.prototype.slice.call(board.querySelectorAll(".kcol-cards")); }

  function listOf(stageId) { return board.querySelector('.kcol-cards[data-stage-id="' + stageId + '"]'); }

  function columnOf(el) { return el.closest(".kcol"); }

  function stageName(list) { return columnOf(list).getAttribute("data-stage-name"); }

  function adjust(column, countDelta, valueDelta) {
    if (!column) { return; }
    var count = column.querySelector(".kcol-count");
    var total = column.querySelector(".kcol-total");
    var n = parseInt(count.getAttribute("data-count"), 10) + countDelta;
    count.setAttribute("data-count", String(n));
    count.textContent = String(n);
    count.setAttribute("aria-label", n + (n === 1 ? " lead" : " leads"));
    var t = parseFloat(total.getAttribute("data-total")) + valueDelta;
    total.setAttribute("data-total", t.toFixed(2));
    total.textContent = money.format(t);
  }

  function valueOf(card) { return parseFloat(card.getAttribute("data-value")) || 0; }

  function insertAt(list, card, index) {
    var siblings = cards(list).filter(function (el) { return el !== card; });
    list.insertBefore(card, siblings[index] || null);
  }

  function comesBefore(a, b) {
    var pa = parseInt(a.getAttribute("data-position"), 10), pb = parseInt(b.getAttribute("data-position"), 10);
    return pa < pb || (pa === pb && parseInt(a.getAttribute("data-id"), 10) < parseInt(b.getAttribute("data-id"), 10));
  }

  function hasMore(list) { return !!columnOf(list).querySelector(".kcol-more"); }

  // Put a card where its (position, id) belongs among the loaded cards; beyond the loaded
  // ones it is left for "Show more".
  function placeByPosition(list, card) {
    var after = cards(list).filter(function (el) { return el !== card && comesBefore(card, el); });
    if (after.length) { list.insertBefore(card, after[0]); return true; }
    if (!hasMore(list)) { list.appendChild(card); return true; }
    return false;
  }

  function parseCards(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    paint(template.content);
    return Array.prototype.slice.call(template.content.querySelectorAll(".kcard"));
  }

  function fetchHtml(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } });
  }

  function removeCard(card) {
    adjust(columnOf(card), -1, -valueOf(card));
    card.remove();
  }

  // After a conflict: show the card as it is now, in the column it is now in.
  function refresh(card) {
    var hadFocus = document.activeElement === card;
    var oldStage = card.getAttribute("data-stage-id");
    var oldValue = valueOf(card);
    var oldColumn = board.querySelector('.kcol[data-stage-id="' + oldStage + '"]');
    return fetchHtml(cardUrl.replace(/0$/, card.getAttribute("data-id"))).then(function (response) {
      if (response.status === 404) {
        adjust(oldColumn, -1, -oldValue);
        card.remove();
        return null;
      }
      return response.text().then(function (html) {
        var fresh = parseCards(html)[0];
        if (!fresh) { return null; }
        var list = listOf(fresh.getAttribute("data-stage-id"));
        adjust(oldColumn, -1, -oldValue);
        card.remove();
        if (!list) { return null; }
        adjust(columnOf(list), 1, valueOf(fresh));
        if (placeByPosition(list, fresh)) {
          fresh.classList.add("is-refreshed");
          if (hadFocus) { fresh.focus(); }
        }
        return fresh;
      });
    });
  }

  function neighbours(card) {
    var siblings = cards(card.parentElement);
    var index = siblings.indexOf(card);
    return { index: index, prev: siblings[index - 1] || null, next: siblings[index + 1] || null };
  }

  function save(card, fromList, oldIndex) {
    var list = card.parentElement;
    var place = neighbours(card);
    var body = {
      stage_id: parseInt(list.getAttribute("data-stage-id"), 10),
      version: parseInt(card.getAttribute("data-version"), 10),
      position: place.index,
    };
    if (place.prev) { body.after_id = parseInt(place.prev.getAttribute("data-id"), 10); }
    else if (place.next) { body.before_id = parseInt(place.next.getAttribute("data-id"), 10); }
    var name = card.getAttribute("data-name");
    card.classList.add("is-saving");
    card.setAttribute("aria-busy", "true");
    return window.OrbitFlow.api("POST", api + "/" + card.getAttribute("data-id") + "/move", body).then(function (result) {
      card.classList.remove("is-saving");
      card.removeAttribute("aria-busy");
      if (result.ok) {
        var fromStage = card.getAttribute("data-stage-id");
        card.setAttribute("data-version", String(result.data.version));
        card.setAttribute("data-position", String(result.data.position));
        card.setAttribute("data-stage-id", String(result.data.stage_id));
        if (String(fromStage) !== String(result.data.stage_id)) {
          adjust(columnOf(fromList), -1, -valueOf(card));
          adjust(columnOf(list), 1, valueOf(card));
        }
        say("Moved " + name + " to " + stageName(list) + ", place " + (place.index + 1) + ".");
        return;
      }
      if (result.status === 409) {
        say(name + " was changed by someone else, so your move was not saved. The card now shows the latest version.", true);
        refresh(card);
        return;
      }
      if (result.status === 404) {
        say(name + " no longer exists or is no longer yours to see.", true);
        adjust(columnOf(fromList), -1, -valueOf(card));
        card.remove();
        return;
      }
      insertAt(fromList, card, oldIndex);
      var message = result.data && result.data.error ? result.data.error.message : "The move was refused.";
      say(name + ": " + message, true);
    }).catch(function () {
      card.classList.remove("is-saving");
      card.removeAttribute("aria-busy");
      insertAt(fromList, card, oldIndex);
      say("The move of " + name + " could not be saved. Check the connection and try again.", true);
    });
  }

  // One step of a card in a direction; false when it cannot go that way.
  function step(card, direction) {
    var list = card.parentElement;
    var siblings = cards(list);
    var index = siblings.indexOf(card);
    if (direction === "up" || direction === "down") {
      var other = siblings[index + (direction === "up" ? -1 : 1)];
      if (!other) { return false; }
      list.insertBefore(card, direction === "up" ? other : other.nextSibling);
      return true;
    }
    var all = lists();
    var target = all[all.indexOf(list) + (direction === "left" ? -1 : 1)];
    if (!target) { return false; }
    insertAt(target, card, Math.min(index, cards(target).length));
    return true;
  }

  function describePlace(card) {
    var list = card.parentElement;
    return stageName(list) + ", place " + (cards(list).indexOf(card) + 1) + " of " + cards(list).length;
  }

  function moveFocus(card, direction) {
    var list = card.parentElement;
    var siblings = cards(list);
    var index = siblings.indexOf(card);
    var next = null;
    if (direction === "up") { next = siblings[index - 1]; }
    else if (direction === "down") { next = siblings[index + 1]; }
    else {
      var all = lists();
      var position = all.indexOf(list);
      var delta = direction === "left" ? -1 : 1;
      for (var i = position + delta; i >= 0 && i < all.length && !next; i += delta) {
        var targetCards = cards(all[i]);
        next = targetCards[Math.min(index, targetCards.length - 1)] || null;
      }
    }
    if (next) { next.focus(); }
  }

  function grab(card) {
    grabbed = { card: card, from: card.parentElement, index: cards(card.parentElement).indexOf(card) };
    card.classList.add("is-grabbed");
    card.setAttribute("aria-pressed", "true");
    say("Picked up " + card.getAttribute("data-name") + " (" + describePlace(card) + "). Arrow keys move it, Space drops it, Escape cancels.");
  }

  function release() {
    var state = grabbed;
    grabbed = null;
    state.card.classList.remove("is-grabbed");
    state.card.removeAttribute("aria-pressed");
    return state;
  }

  function drop() {
    var state = release();
    var card = state.card;
    if (card.parentElement === state.from && cards(state.from).indexOf(card) === state.index) {
      say("Dropped " + card.getAttribute("data-name") + " where it was.");
      return;
    }
    save(card, state.from, state.index);
  }

  function cancel() {
    var state = release();
    insertAt(state.from, state.card, state.index);
    state.card.focus();
    say("Move of " + state.card.getAttribute("data-name") + " cancelled.");
  }

  var DIRECTIONS = { ArrowLeft: "left", ArrowRight: "right", ArrowUp: "up", ArrowDown: "down" };

  board.addEventListener("keydown", function (event) {
    var card = event.target;
    if (!card.classList || !card.classList.contains("kcard")) { return; }
    var key = event.key;
    if (key === "Enter" && !grabbed) {
      event.preventDefault();
      card.querySelector(".kcard-name").click();
      return;
    }
    if (!canEdit) {
      if (DIRECTIONS[key]) { event.preventDefault(); moveFocus(card, DIRECTIONS[key]); }
      return;
    }
    if (key === " " || key === "Spacebar" || (key === "Enter" && grabbed)) {
      event.preventDefault();
      if (grabbed && grabbed.card === card) { drop(); } else if (!grabbed) { grab(card); }
      return;
    }
    if (key === "Escape" && grabbed) {
      event.preventDefault();
      cancel();
      return;
    }
    var direction = DIRECTIONS[key];
    if (!direction) { return; }
    event.preventDefault();
    if (grabbed && grabbed.card === card) {
      if (step(card, direction)) { card.focus(); say(describePlace(card)); }
      return;
    }
    if (event.shiftKey) {
      var from = card.parentElement;
      var index = cards(from).indexOf(card);
      if (step(card, direction)) { card.focus(); save(card, from, index); }
      return;
    }
    moveFocus(card, direction);
  });

  // Leaving a picked-up card (Tab, a click elsewhere) cancels the move. Moving the card
  // in the page blurs it for a moment too, so look again once the move has refocused it.
  board.addEventListener("focusout", function (event) {
    if (!grabbed || event.target !== grabbed.card) { return; }
    window.setTimeout(function () {
      if (grabbed && document.activeElement !== grabbed.card) { cancel(); }
    }, 0);
  });

  board.addEventListener("click", function (event) {
    var button = event.target.closest(".kbtn");
    if (button && canEdit) {
      var card = button.closest(".kcard");
      var from = card.parentElement;
      var index = cards(from).indexOf(card);
      if (step(card, button.getAttribute("data-move"))) {
        button.focus();
        save(card, from, index);
      }
      return;
    }
    var more = event.target.closest(".kcol-more");
    if (more) {
      event.preventDefault();
      loadMore(more);
    }
  });

  function loadMore(link) {
    var list = columnOf(link).querySelector(".kcol-cards");
    var last = cards(list).pop();
    var url = link.getAttribute("data-more-url");
    if (last) {
      url += (url.indexOf("?") < 0 ? "?" : "&") + "after=" +
        encodeURIComponent(last.getAttribute("data-position") + ":" + last.getAttribute("data-id"));
    }
    link.setAttribute("aria-busy", "true");
    fetchHtml(url).then(function (response) {
      var more = response.headers.get("X-Has-More") === "1";
      return response.text().then(function (html) {
        var added = 0;
        parseCards(html).forEach(function (card) {
          if (!document.getElementById(card.id)) { list.appendChild(card); added += 1; }
        });
        link.removeAttribute("aria-busy");
        if (!more) { link.remove(); }
        say(added + " more leads shown in " + stageName(list) + ".");
      });
    }).catch(function () {
      link.removeAttribute("aria-busy");
      say("More leads could not be loaded. Try again.", true);
    });
  }

  paint(document);
  if (canEdit && window.Sortable) {
    lists().forEach(function (list) {
      window.Sortable.create(list, {
        group: "leads",
        draggable: ".kcard",
        filter: ".kbtn",
        preventOnFilter: false,
        animation: 150,
        ghostClass: "is-ghost",
        chosenClass: "is-chosen",
        dragClass: "is-dragging",
        // A short press before dragging on touch screens, so the board still scrolls.
        delay: 150,
        delayOnTouchOnly: true,
        onEnd: function (event) {
          if (event.from === event.to && event.oldIndex === event.newIndex) { return; }
          save(event.item, event.from, event.oldIndex);
        },
      });
    });
  }
})();
