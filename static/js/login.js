// Scan login: poll check_login every 2 s; on "confirmed" the server has logged this browser in,
// so go to the (server-validated) next URL; on "expired" offer a new code. Texts come translated
// from the page: this script only shows the paragraph whose data-state matches.
(function () {
  var box = document.getElementById("scan-login");
  if (!box || !box.dataset.ticket) return;
  var ticket = box.dataset.ticket;
  var interval = parseInt(box.dataset.intervalMs, 10) || 2000;
  var img = box.querySelector("img.qr");
  var timer = null;
  var busy = false;

  function show(state) {
    box.querySelectorAll(".status").forEach(function (el) {
      el.hidden = el.dataset.state !== state;
    });
    if (img) img.classList.toggle("expired", state === "expired");
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(poll, interval);
  }

  function poll() {
    if (busy) return;
    if (document.hidden) { schedule(); return; }  // no polling from a background tab
    busy = true;
    var url = box.dataset.checkUrl + "?ticket=" + encodeURIComponent(ticket);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        var status = body && body.data && body.data.status;
        if (status === "confirmed") {
          show("confirmed");
          window.location.assign(box.dataset.next || "/");
          return;
        }
        if (status === "expired") { show("expired"); return; }
        show("waiting");
        schedule();
      })
      .catch(function () { show("offline"); schedule(); })
      .then(function () { busy = false; });
  }

  function refresh() {
    fetch(box.dataset.ticketUrl, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (!body || !body.data || !body.data.ticket) throw new Error("no ticket");
        ticket = body.data.ticket;
        box.dataset.ticket = ticket;
        if (img) img.src = body.data.qrCodeUrl;
        show("waiting");
        schedule();
      })
      .catch(function () { show("offline"); setTimeout(refresh, interval); });
  }

  var button = box.querySelector("button.refresh");
  if (button) button.addEventListener("click", refresh);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });
  schedule();
})();
