// The team page's share button: the system share sheet where the browser has one (Web Share API),
// else copy the link (Clipboard API, falling back to selecting the link field).
(function () {
  document.querySelectorAll(".share-button[data-share-url]").forEach(function (button) {
    var url = button.dataset.shareUrl;
    var field = button.parentNode.querySelector(".share-url input");
    function copied() {
      var label = button.textContent;
      button.textContent = button.dataset.copied;
      button.classList.add("copied");
      setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 2000);
    }
    function copy() {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(url).then(copied, selectField);
      } else {
        selectField();
      }
    }
    function selectField() {
      if (!field) { return; }
      field.focus();
      field.select();
      try { if (document.execCommand("copy")) { copied(); } } catch (e) { /* the link stays selected */ }
    }
    button.addEventListener("click", function () {
      if (navigator.share) {
        navigator.share({ title: button.dataset.shareTitle, url: url }).catch(function (err) {
          if (!err || err.name !== "AbortError") { copy(); }
        });
      } else {
        copy();
      }
    });
  });
})();
