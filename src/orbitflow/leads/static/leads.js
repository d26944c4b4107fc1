// Lead list and lead page: stage colours, select-all, and showing the bulk fields the
// chosen action needs (without JavaScript every field shows and the server checks).
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("[data-color]"), function (el) {
    el.style.setProperty("--stage-color", el.getAttribute("data-color"));
  });

  var selectAll = document.getElementById("select-all");
  if (selectAll) {
    var boxes = document.querySelectorAll('input[name="ids"]');
    selectAll.addEventListener("change", function () {
      Array.prototype.forEach.call(boxes, function (box) { box.checked = selectAll.checked; });
    });
  }

  var action = document.getElementById("bulk-action");
  if (action) {
    var parts = document.querySelectorAll("[data-bulk-for]");
    var update = function () {
      Array.prototype.forEach.call(parts, function (part) {
        var wanted = part.getAttribute("data-bulk-for").split(" ").indexOf(action.value) >= 0;
        part.hidden = !wanted;
      });
    };
    action.addEventListener("change", update);
    update();
  }
})();
