// danvan: the little script the pages use. Everything works without it;
// it only adds live progress to the sync page and confirmation prompts.
"use strict";
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    ev.preventDefault();
  }
});
