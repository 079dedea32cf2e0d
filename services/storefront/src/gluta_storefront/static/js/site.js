/* Glutathione storefront: small progressive enhancements; every page works without them. */
(function () {
  "use strict";

  function csrfOf(form) {
    var field = form.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  // Banner carousel: autoplay, previous/next, dots; pauses while hovered or focused.
  document.querySelectorAll("[data-carousel]").forEach(function (root) {
    var slides = root.querySelectorAll(".slide");
    var dots = root.querySelectorAll("[data-carousel-dot]");
    if (slides.length < 2) return;
    var index = 0, timer = null;
    function show(n) {
      index = (n + slides.length) % slides.length;
      slides.forEach(function (s, i) { s.classList.toggle("is-active", i === index); });
      dots.forEach(function (d, i) {
        if (i === index) d.setAttribute("aria-current", "true"); else d.removeAttribute("aria-current");
      });
    }
    function start() { stop(); timer = setInterval(function () { show(index + 1); }, 5000); }
    function stop() { if (timer) clearInterval(timer); timer = null; }
    root.querySelector("[data-carousel-prev]").addEventListener("click", function () { show(index - 1); start(); });
    root.querySelector("[data-carousel-next]").addEventListener("click", function () { show(index + 1); start(); });
    dots.forEach(function (d) {
      d.addEventListener("click", function () { show(+d.getAttribute("data-carousel-dot")); start(); });
    });
    root.addEventListener("mouseenter", stop);
    root.addEventListener("mouseleave", start);
    root.addEventListener("focusin", stop);
    start();
  });

  // Product gallery: a thumbnail shows its image in the main frame.
  document.querySelectorAll("[data-gallery]").forEach(function (root) {
    var main = root.querySelector("[data-gallery-main]");
    root.querySelectorAll("[data-gallery-thumb]").forEach(function (button) {
      button.addEventListener("click", function () { main.src = button.getAttribute("data-gallery-thumb"); });
    });
  });

  // Quantity steppers.
  document.querySelectorAll("[data-qty-step]").forEach(function (button) {
    button.addEventListener("click", function () {
      var input = button.parentNode.querySelector("input");
      var value = (parseInt(input.value, 10) || 1) + parseInt(button.getAttribute("data-qty-step"), 10);
      var max = parseInt(input.max, 10) || 999;
      input.value = Math.max(1, Math.min(max, value));
    });
  });

  // Like toggle without leaving the page (the form still works without script).
  document.querySelectorAll("[data-like-form]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button");
      var wanted = form.querySelector('input[name="liked"]');
      button.disabled = true;
      fetch(form.action, {
        method: "POST",
        headers: { "Accept": "application/json", "X-CSRF-Token": csrfOf(form),
                   "Content-Type": "application/x-www-form-urlencoded" },
        body: "liked=" + encodeURIComponent(wanted.value),
        credentials: "same-origin"
      }).then(function (response) {
        return response.json().then(function (body) { return { status: response.status, body: body }; });
      }).then(function (result) {
        if (result.status === 401 && result.body.login) { window.location = result.body.login; return; }
        if (result.status !== 200) { alert(result.body.message || "Error"); return; }
        var liked = result.body.liked;
        wanted.value = liked ? "0" : "1";
        button.classList.toggle("is-liked", liked);
        button.setAttribute("aria-pressed", liked ? "true" : "false");
        form.querySelector("[data-like-icon]").textContent = liked ? "♥" : "♡";
        form.querySelector("[data-like-label]").textContent =
          button.getAttribute(liked ? "data-label-on" : "data-label-off");
        form.querySelector("[data-like-count]").textContent = result.body.likeCount.toLocaleString("en-US");
      }).catch(function () { form.submit(); })
        .finally(function () { button.disabled = false; });
    });
  });

  // Live login-id check on the sign-up form.
  document.querySelectorAll("[data-login-check]").forEach(function (input) {
    var output = document.getElementById("login-check");
    var timer = null, last = "";
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var value = input.value.trim();
        if (!value || value === last) return;
        last = value;
        fetch(input.getAttribute("data-login-check") + "?loginId=" + encodeURIComponent(value),
              { headers: { "Accept": "application/json" }, credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (body) {
            if (input.value.trim() !== value) return;
            output.textContent = body.message;
            output.classList.toggle("is-ok", body.ok);
            output.classList.toggle("is-bad", !body.ok);
            input.setAttribute("aria-invalid", body.ok ? "false" : "true");
          }).catch(function () { /* the server checks again on submit */ });
      }, 300);
    });
  });

  // Order status: ask until the order is CONFIRMED or CANCELLED.
  document.querySelectorAll("[data-order-poll]").forEach(function (box) {
    var url = box.getAttribute("data-order-poll");
    var interval = parseInt(box.getAttribute("data-interval"), 10) || 1000;
    function poll() {
      fetch(url, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          box.innerHTML = html;
          var status = box.querySelector("[data-order-status]");
          if (status && status.hasAttribute("data-final")) {
            // the page's buttons and amounts depend on the final state: show the full page once
            window.location.reload();
            return;
          }
          setTimeout(poll, interval);
        })
        .catch(function () { setTimeout(poll, interval * 3); });
    }
    setTimeout(poll, interval);
  });

  // Selects and quantities that apply themselves.
  document.querySelectorAll("[data-autosubmit-select]").forEach(function (select) {
    select.addEventListener("change", function () {
      var form = select.form;
      if (form) { if (form.requestSubmit) form.requestSubmit(); else form.submit(); }
    });
  });
  document.querySelectorAll("form[data-autosubmit] input[type=number]").forEach(function (input) {
    input.addEventListener("change", function () {
      if (input.form.requestSubmit) input.form.requestSubmit(); else input.form.submit();
    });
  });

  // Ask before destructive actions.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
})();

// Search filters start folded on small screens (the results come first).
(function () {
  "use strict";
  if (window.matchMedia && window.matchMedia("(max-width: 899px)").matches) {
    document.querySelectorAll("details.filter-box").forEach(function (box) { box.removeAttribute("open"); });
  }
})();

// Search box suggestions as you type (a WAI-ARIA combobox): up to 10 product names from /search/suggest;
// arrow keys move through them, Enter opens the chosen product (or searches what was typed), Esc closes.
(function () {
  "use strict";
  var form = document.querySelector("form[data-suggest]");
  if (!form || !window.fetch) return;
  var input = form.querySelector('[role="combobox"]');
  var list = document.getElementById(input.getAttribute("aria-controls"));
  var items = [], active = -1, timer = null, asked = 0;

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }
  function highlight(index) {
    active = index;
    items.forEach(function (li, i) { li.setAttribute("aria-selected", i === index ? "true" : "false"); });
    if (index >= 0) input.setAttribute("aria-activedescendant", items[index].id);
    else input.removeAttribute("aria-activedescendant");
  }
  function show(found) {
    list.textContent = "";
    items = found.map(function (item, i) {
      var li = document.createElement("li");
      li.id = "header-suggestion-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.setAttribute("data-href", "/products/" + encodeURIComponent(item.productId));
      li.textContent = item.text;
      li.addEventListener("mousedown", function (event) {  // before the input's blur closes the list
        event.preventDefault();
        window.location = li.getAttribute("data-href");
      });
      list.appendChild(li);
      return li;
    });
    active = -1;
    if (items.length) {
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    } else {
      close();
    }
  }
  function ask() {
    var prefix = input.value.trim();
    var mine = ++asked;
    if (!prefix) { show([]); return; }
    fetch(form.getAttribute("data-suggest") + "?prefix=" + encodeURIComponent(prefix), {
      headers: { "Accept": "application/json" }, credentials: "same-origin"
    }).then(function (response) { return response.ok ? response.json() : { items: [] }; })
      .then(function (body) { if (mine === asked) show(body.items || []); })
      .catch(function () { if (mine === asked) show([]); });
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 120);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!items.length) return;
      event.preventDefault();
      if (list.hidden) { list.hidden = false; input.setAttribute("aria-expanded", "true"); }
      // -1 is the typed text itself; past either end the choice goes back to it
      var next = active + (event.key === "ArrowDown" ? 1 : -1);
      if (next >= items.length) next = -1;
      if (next < -1) next = items.length - 1;
      highlight(next);
    } else if (event.key === "Enter" && active >= 0 && !list.hidden) {
      event.preventDefault();
      window.location = items[active].getAttribute("data-href");
    } else if (event.key === "Escape" && !list.hidden) {
      event.preventDefault();
      close();
    }
  });
  input.addEventListener("blur", function () { setTimeout(close, 150); });
  input.addEventListener("focus", function () {
    if (items.length && input.value.trim()) { list.hidden = false; input.setAttribute("aria-expanded", "true"); }
  });
})();
