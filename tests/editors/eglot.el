;;; eglot.el --- nib in a real Emacs with eglot, in batch mode  -*- lexical-binding: t -*-
;; The editors/README.md snippet, then: completion at point inserts nib's suggestion, and
;; saving a file shows nib's review finding through flymake.
;; Env: NIB_BIN, NIB_TEST_MODEL, NIB_WORK (a git repository with sample.py and items.py).

(package-initialize)
(require 'eglot)
(require 'flymake)

(defun nib-test-fail (fmt &rest args)
  (princ (format "FAIL: %s\n" (apply #'format fmt args)))
  (kill-emacs 1))

(defun nib-test-connect ()
  "What `eglot-ensure' does after the next command, which batch mode never runs."
  (unless (eglot-current-server)
    (apply #'eglot--connect (eglot--guess-contact))))

(defun nib-test-wait (seconds what done)
  (let ((deadline (+ (float-time) seconds)))
    (while (not (funcall done))
      (when (> (float-time) deadline) (nib-test-fail "timed out waiting for %s" what))
      (accept-process-output nil 0.1))))

;; The README's snippet, with the binary and model of this test run.
(with-eval-after-load 'eglot
  (add-to-list 'eglot-server-programs
               `((python-mode python-ts-mode) . (,(getenv "NIB_BIN") "serve" "--model" ,(getenv "NIB_TEST_MODEL")))))

(let ((work (getenv "NIB_WORK")))
  (find-file (expand-file-name "sample.py" work))
  (python-mode)
  (nib-test-connect)
  (nib-test-wait 60 "eglot to connect" (lambda () (eglot-current-server)))
  ;; Line 24 is `        return ` in total_value.
  (goto-char (point-min))
  (forward-line 23)
  (end-of-line)
  (insert "s")
  (let ((before (buffer-substring (line-beginning-position) (line-end-position))))
    (nib-test-wait 180 "a completion"
                   (lambda ()
                     (completion-at-point)
                     (not (equal before (buffer-substring (line-beginning-position) (line-end-position))))))
    (princ (format "completed in Emacs: %S -> %S\n" before
                   (buffer-substring (line-beginning-position) (line-end-position)))))
  (find-file (expand-file-name "items.py" work))
  (python-mode)
  (nib-test-connect)
  (nib-test-wait 30 "eglot to manage items.py" (lambda () (eglot-managed-p)))
  (set-buffer-modified-p t)
  (save-buffer)
  (nib-test-wait 120 "a review diagnostic"
                 (lambda ()
                   (flymake-start)
                   (seq-find (lambda (d) (string-match-p "Off by one" (flymake-diagnostic-text d)))
                             (flymake-diagnostics))))
  (princ "review diagnostic shown in Emacs\n")
  (kill-emacs 0))
