-- Nothing starts until require("nib").setup() is called.
if vim.g.loaded_nib then
  return
end
vim.g.loaded_nib = true
