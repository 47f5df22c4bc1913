// danvan: the little script the pages use. Everything works without it;
// it only adds live progress to the sync page, confirmation prompts, and
// the cursor in the first field to fix on a refused form.
"use strict";
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    ev.preventDefault();
  }
});

// The sync page: while a sync runs, poll its progress twice a second and
// show it; when it ends, reload to show the result and refused changes.
(function () {
  var box = document.getElementById("sync-status");
  if (!box || box.getAttribute("data-state") !== "running") {
    return;
  }
  var fmt = function (n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
  };
  var set = function (id, text) {
    var el = document.getElementById(id);
    if (el) {
      el.textContent = text;
    }
  };
  var poll = function () {
    fetch("/dong-bo/tien-do", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.state !== "running") {
          window.location.replace("/dong-bo");
          return;
        }
        set("left-receive", fmt(s.left_to_receive) + " thay đổi");
        set("left-send", fmt(s.left_to_send) + " thay đổi");
        set("bytes", fmt(s.bytes_received) + " / " + fmt(s.bytes_sent) + " byte");
        set("rate", fmt(s.bytes_per_s) + " byte/giây");
        window.setTimeout(poll, 500);
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  };
  window.setTimeout(poll, 300);
})();

// A refused form: put the cursor in the first field to fix, which also
// brings it into view on a small screen.
(function () {
  var first = document.querySelector("[aria-invalid=true]");
  if (first) {
    first.focus();
    first.scrollIntoView({ block: "center" });
  }
})();
