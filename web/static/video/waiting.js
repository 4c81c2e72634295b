// The room is not open yet: reload the page when it opens (the server decides;
// this only saves the person from refreshing by hand).
const { opensAt } = JSON.parse(document.getElementById("room-opens").textContent);
const wait = new Date(opensAt).getTime() - Date.now();
// Timers longer than ~24.8 days overflow; nobody keeps a tab open that long anyway.
if (wait < 2 ** 31 - 1) setTimeout(() => location.reload(), Math.max(wait, 0) + 1000);
