// Flash messages (sign-in notices) can be dismissed; without JavaScript they simply stay.
const box = document.querySelector(".flashes");
const close = box?.querySelector(".flash-close");
if (close) {
  close.hidden = false;
  close.addEventListener("click", () => box.remove());
}
