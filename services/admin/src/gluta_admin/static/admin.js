// Glutathione admin: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // Forms with data-confirm ask before they submit.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // Rich description: toolbar buttons wrap the selection of the textarea in a tag.
  document.querySelectorAll("[data-editor]").forEach(function (box) {
    var area = box.querySelector("textarea");
    var preview = box.querySelector("iframe.preview");
    box.querySelectorAll("[data-wrap]").forEach(function (button) {
      button.addEventListener("click", function () {
        var tag = button.getAttribute("data-wrap");
        var start = area.selectionStart, end = area.selectionEnd;
        var selected = area.value.slice(start, end) || button.getAttribute("data-sample") || "";
        var open = "<" + tag + ">", close = "</" + tag + ">";
        if (tag === "a") {
          var href = window.prompt("URL", "https://");
          if (!href) { return; }
          open = '<a href="' + href.replace(/"/g, "&quot;") + '">';
        }
        if (tag === "ul") { open = "<ul>\n  <li>"; close = "</li>\n</ul>"; }
        area.setRangeText(open + selected + close, start, end, "end");
        area.focus();
      });
    });
    var toggle = box.querySelector("[data-preview]");
    if (toggle && preview) {
      toggle.addEventListener("click", function () {
        preview.hidden = !preview.hidden;
        // sandboxed without scripts: whatever the HTML holds cannot run
        preview.srcdoc = area.value;
      });
    }
  });

  // Product images: move up/down renumbers the order fields; the chosen thumbnail is highlighted.
  function renumber(list) {
    list.querySelectorAll(".image-card").forEach(function (card, index) {
      var order = card.querySelector("input[data-order]");
      if (order) { order.value = index + 1; }
    });
  }
  function highlight(list) {
    list.querySelectorAll(".image-card").forEach(function (card) {
      var radio = card.querySelector("input[type=radio]");
      card.classList.toggle("is-thumb", !!(radio && radio.checked));
    });
  }
  document.querySelectorAll("[data-images]").forEach(function (list) {
    list.addEventListener("click", function (event) {
      var button = event.target.closest("[data-move]");
      if (!button) { return; }
      event.preventDefault();
      var card = button.closest(".image-card");
      if (button.getAttribute("data-move") === "up" && card.previousElementSibling) {
        list.insertBefore(card, card.previousElementSibling);
      } else if (button.getAttribute("data-move") === "down" && card.nextElementSibling) {
        list.insertBefore(card.nextElementSibling, card);
      }
      renumber(list);
    });
    highlight(list);
  });
  document.addEventListener("change", function (event) {
    if (event.target.name === "thumbnail") {
      document.querySelectorAll("[data-images]").forEach(highlight);
    }
  });

  // New image files: show them with a thumbnail choice before uploading.
  document.querySelectorAll("input[type=file][data-new-images]").forEach(function (input) {
    var target = document.getElementById(input.getAttribute("data-new-images"));
    var label = input.getAttribute("data-thumb-label") || "Thumbnail";
    input.addEventListener("change", function () {
      target.innerHTML = "";
      Array.prototype.forEach.call(input.files, function (file, index) {
        var card = document.createElement("div");
        card.className = "image-card";
        var img = document.createElement("img");
        img.alt = file.name;
        img.src = URL.createObjectURL(file);
        var name = document.createElement("div");
        name.className = "small muted";
        name.textContent = file.name;
        var pick = document.createElement("label");
        var radio = document.createElement("input");
        radio.type = "radio";
        radio.name = "thumbnail";
        radio.value = "new:" + index;
        pick.appendChild(radio);
        pick.appendChild(document.createTextNode(" " + label));
        card.appendChild(img);
        card.appendChild(name);
        card.appendChild(pick);
        target.appendChild(card);
      });
      var form = input.form;
      var checked = form.querySelector("input[name=thumbnail]:checked");
      if (!checked) {
        var first = form.querySelector("input[name=thumbnail]");
        if (first) { first.checked = true; }
      }
      document.querySelectorAll("[data-images]").forEach(highlight);
    });
  });
})();
