// CONTROL/MONITORING without reloading the page: fetches the monitoring
// part of /control for the page shown (its filter and page number: the
// server reads only those virtual servers; HTML it rendered and escaped)
// and puts it in place, every few seconds or on request.
(function () {
  "use strict";
  var box = document.getElementById("monitor");
  var sel = document.getElementById("refresh");
  var now = document.getElementById("update");
  var stamp = document.getElementById("updated");
  if (!box || !sel || !now) { return; }
  var timer = null;
  function update() {
    // the page shown: its filter and page number
    var shown = window.location.search.replace(/^\?/, "");
    fetch("/control?fragment=1" + (shown ? "&" + shown : ""), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.text();
      })
      .then(function (html) {
        box.innerHTML = html;
        stamp.textContent = "updated " + new Date().toLocaleTimeString();
      })
      .catch(function (e) { stamp.textContent = "not updated: " + e.message; });
  }
  function schedule() {
    if (timer) { clearInterval(timer); timer = null; }
    var s = parseInt(sel.value, 10);
    if (s > 0) { timer = setInterval(update, s * 1000); }
  }
  sel.addEventListener("change", schedule);
  now.addEventListener("click", update);
  schedule();
})();
