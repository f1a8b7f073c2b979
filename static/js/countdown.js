// Live "HH:MM:SS" countdown for every element carrying data-valid-end (an ISO timestamp).
(function () {
  function pad(n) { return String(n).padStart(2, "0"); }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-valid-end]").forEach(function (el) {
      var left = Math.max(0, Math.floor((Date.parse(el.dataset.validEnd) - now) / 1000));
      el.textContent = pad(Math.floor(left / 3600)) + ":" + pad(Math.floor(left / 60) % 60) + ":" + pad(left % 60);
      el.classList.toggle("expired", left === 0);
    });
  }
  tick();
  setInterval(tick, 1000);
})();
