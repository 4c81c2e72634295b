// The payment page: Stripe.js's Payment Element (confirmPayment, then Stripe sends the
// browser to the return page). A Stripe.js without confirmPayment (localstripe's
// stand-in in the tests) gets a card element instead: its token goes to the server,
// which pays the intent with it. A countdown shows how long the time stays held.
(function () {
  'use strict';
  const root = document.querySelector('[data-payment]');
  if (!root) return;
  const form = root.querySelector('#payment-form');
  const button = root.querySelector('[data-pay-button]');
  const errorBox = root.querySelector('[data-payment-error]');
  const countdown = root.querySelector('[data-countdown]');
  const deadline = Date.now() + Number(root.dataset.secondsLeft || 0) * 1000;
  let expired = false;

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function tick() {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    const minutes = Math.floor(left / 60);
    const seconds = String(left % 60).padStart(2, '0');
    countdown.textContent = minutes + ':' + seconds + ' min';
    if (left === 0 && !expired) {
      expired = true;
      button.disabled = true;
      showError('The time we held for you has run out, so nothing was charged. Please pick a time again.');
      return;
    }
    if (!expired) window.setTimeout(tick, 1000);
  }

  if (typeof window.Stripe !== 'function') {
    showError('The secure card form could not load. Check your connection and reload the page.');
    return;
  }
  const stripe = window.Stripe(root.dataset.publishableKey);
  const modern = typeof stripe.confirmPayment === 'function';
  const elements = modern
    ? stripe.elements({clientSecret: root.dataset.clientSecret})
    : stripe.elements();
  const element = elements.create(modern ? 'payment' : 'card');
  element.mount('#payment-element');
  button.disabled = false;
  tick();

  async function payWithToken() {
    const result = await stripe.createToken(element);
    if (result.error) {
      throw new Error(result.error.message || 'Please check the card details.');
    }
    const response = await fetch(root.dataset.cardUrl, {
      method: 'POST',
      headers: {'Content-Type': 'application/json', 'X-CSRFToken': root.dataset.csrf},
      credentials: 'same-origin',
      body: JSON.stringify({token: result.token.id}),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error((body.error && body.error.message) || 'The payment did not go through.');
    }
    if (body.status === 'requires_action') {
      // 3-D Secure: Stripe.js shows the bank's check, then the return page decides.
      const next = await stripe.confirmCardPayment(body.client_secret);
      if (next.error) throw new Error(next.error.message || 'The card check failed.');
      window.location.assign(root.dataset.returnUrl);
      return;
    }
    window.location.assign(body.redirect || root.dataset.returnUrl);
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (expired) return;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    showError('');
    try {
      if (modern) {
        const result = await stripe.confirmPayment({
          elements,
          confirmParams: {return_url: root.dataset.returnUrl},
        });
        // Only reached when the payment failed at once; success leaves the page.
        throw new Error((result.error && result.error.message) || 'The payment did not go through.');
      }
      await payWithToken();
    } catch (error) {
      showError(error.message || 'The payment did not go through. Please try again.');
      button.disabled = expired;
      button.removeAttribute('aria-busy');
    }
  });
})();
