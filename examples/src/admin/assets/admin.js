// While a sync runs, poll its progress once a second and move the bar; reload the page when it
// ends so the runs, plan and history show what it did. Nothing else on the page needs script.
(function () {
  "use strict";
  var status = document.getElementById("sync-status");
  if (!status || status.getAttribute("data-running") !== "true") {
    return;
  }
  var bar = document.getElementById("sync-progress");
  var text = document.getElementById("sync-progress-text");
  var polls = 0;
  function poll() {
    polls += 1;
    // At most an hour of polling from one page view.
    if (polls > 3600) {
      return;
    }
    fetch("/admin/progress", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (p) {
        if (!p.running) {
          window.location.reload();
          return;
        }
        bar.max = Math.max(p.total, 1);
        bar.value = p.done;
        text.textContent = p.total === 0 ? "planning..."
          : p.done + " of " + p.total + " steps, " + p.failed + " failed";
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
