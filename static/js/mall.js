// Cashier: reload while the payment is being confirmed (data-refresh-seconds), and once the
// pay deadline passes (a countdown with data-reload-at-zero), so the page shows the order's state.
(function () {
  var confirming = document.querySelector("[data-refresh-seconds]");
  if (confirming) {
    setTimeout(function () { window.location.reload(); }, 1000 * Number(confirming.dataset.refreshSeconds || 3));
  }
  var deadline = document.querySelector("[data-reload-at-zero][data-valid-end]");
  if (deadline) {
    var left = Date.parse(deadline.dataset.validEnd) - Date.now();
    if (left > 0) { setTimeout(function () { window.location.reload(); }, left + 1500); }
  }
})();
// Orders: a cancel / refund button asks first (its words come with the button, in the page's language).
document.addEventListener("submit", function (event) {
  var text = event.target.dataset && event.target.dataset.confirm;
  if (text && !window.confirm(text)) { event.preventDefault(); }
});
