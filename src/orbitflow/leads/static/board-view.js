// The board's layout helpers: filters open on wide screens (folded on a phone), and a hint
// naming the stages that are off-screen to the right, with a button that scrolls to them.
(function () {
  "use strict";
  var board = document.getElementById("board");
  var filters = document.getElementById("board-filters");
  if (filters && window.matchMedia("(min-width: 761px)").matches) { filters.open = true; }
  var hint = document.getElementById("board-scroll-hint");
  if (!board || !hint) { return; }
  var text = hint.querySelector(".hint-text");

  function offscreen() {
    var right = board.getBoundingClientRect().right;
    return Array.prototype.filter.call(board.querySelectorAll(".kcol"), function (column) {
      return column.getBoundingClientRect().left + 40 > right;
    });
  }

  function update() {
    var hidden = offscreen();
    hint.hidden = hidden.length === 0;
    if (hidden.length) {
      var names = hidden.map(function (column) { return column.getAttribute("data-stage-name"); });
      text.textContent = (hidden.length === 1 ? "1 more stage: " : hidden.length + " more stages: ") + names.join(", ");
    }
  }

  hint.querySelector("[data-scroll-board]").addEventListener("click", function () {
    var next = offscreen()[0];
    if (next) { board.scrollBy({ left: next.getBoundingClientRect().left - board.getBoundingClientRect().left, behavior: "smooth" }); }
  });
  board.addEventListener("scroll", update, { passive: true });
  window.addEventListener("resize", update);
  update();
})();
